package pipeline

import (
	"crypto/sha256"
	"errors"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/narwhal-ci/narwhal/internal/cachekey"
	"gopkg.in/yaml.v3"
)

// The keys of a cache and of artifacts.
var (
	cacheKeys    = []string{"key", "paths", "restore_keys"}
	artifactKeys = []string{"paths", "expire_in"}
)

// pipelineCache reads the top-level cache, the default of every step that
// does not name its own.
func (p *parser) pipelineCache(v *yaml.Node) *Cache {
	switch on, isBool := boolValue(v); {
	case isBool && on:
		p.errorf(v, "cache: %s is not a cache: write a mapping with key and paths", v.Value)
		return nil
	case isBool:
		p.errorf(v, "cache: false is only for steps (it turns the pipeline's cache off in one step); "+
			"at the top level leave the key out for no cache")
		return nil
	}
	return p.cache(v, "in cache")
}

// stepCache reads the cache of the step named label: a mapping, or false
// for none (not even the pipeline's), which is nil.
func (p *parser) stepCache(v *yaml.Node, label string) *Cache {
	switch on, isBool := boolValue(v); {
	case isBool && on:
		p.errorf(v, "cache: %s is not a cache: write a mapping with key and paths, "+
			"or leave the key out to use the pipeline's cache (cache: false turns it off)", v.Value)
		return nil
	case isBool:
		return nil
	case v.Kind != yaml.MappingNode:
		p.errorf(v, "cache: expected a mapping with key and paths, or false, got %s", kindName(v))
		return nil
	}
	return p.cache(v, "in cache of "+label)
}

// boolValue reports whether v is a boolean (isBool) and whether it is true;
// one that does not decode counts as true, never as false.
func boolValue(v *yaml.Node) (on, isBool bool) {
	if v.Kind != yaml.ScalarNode || v.ShortTag() != tagBool {
		return false, false
	}
	if err := v.Decode(&on); err != nil {
		return true, true
	}
	return on, true
}

// cache reads a cache mapping; where places it in messages ("in cache of
// step \"build\"").
func (p *parser) cache(v *yaml.Node, where string) *Cache {
	if v.Kind != yaml.MappingNode {
		p.errorf(v, "cache: expected a mapping with key and paths, got %s", kindName(v))
		return nil
	}
	fs := p.fields(v)
	c := &Cache{}
	for _, e := range fs {
		switch e.key.Value {
		case "key":
			c.Key = p.keyTemplate(e.val, "cache.key")
		case "paths":
			c.Paths = p.paths(e.val, "cache.paths", MaxCachePaths, false)
		case "restore_keys":
			c.RestoreKeys = p.restoreKeys(e.val)
		default:
			p.unknownKey(e.key, where, cacheKeys)
		}
	}
	p.required(v, fs, where, "key", "paths")
	return c
}

// defaultCache gives s the pipeline's cache (a copy) when s has no cache
// key; a step with cache: false keeps none.
func defaultCache(d *draftPipeline, s *draft) {
	if s.cacheSet || d.Cache == nil {
		return
	}
	c := *d.Cache
	c.Paths, c.RestoreKeys = slices.Clone(c.Paths), slices.Clone(c.RestoreKeys)
	s.Cache = &c
}

// restoreKeys reads the key prefixes tried when the key has no entry.
func (p *parser) restoreKeys(v *yaml.Node) []string {
	const key = "cache.restore_keys"
	if v.Kind == yaml.SequenceNode && p.tooMany(v.Content, key, "restore key", MaxRestoreKeys) {
		return nil
	}
	items := p.list(v, key, "a key prefix")
	var out []string
	for _, n := range items {
		if s := p.keyTemplate(n, itemKey(v, n, key)); s != "" {
			out = append(out, s)
		}
	}
	p.unique(items, key)
	return out
}

// sampleKeyEnv renders key templates at parse time, to check the length of
// what they render to: a checksum is always 64 hex digits.
var sampleKeyEnv = cachekey.Env{
	Checksum: func(string) ([sha256.Size]byte, error) { return [sha256.Size]byte{}, nil },
	Arch:     "amd64",
	OS:       "linux",
}

// keyTemplate reads a cache key template (or restore_keys prefix) and
// checks it with cachekey.Parse, reporting a problem at its character when
// the value is written plainly on one line.
func (p *parser) keyTemplate(v *yaml.Node, key string) string {
	s, ok := p.str(v, key)
	if !ok {
		return ""
	}
	t, err := cachekey.Parse(s)
	var kerr *cachekey.Error
	switch {
	case errors.As(err, &kerr):
		p.errorWithin(v, kerr.Offset, "%s: %s", key, kerr.Msg)
		return ""
	case err != nil:
		p.errorf(v, "%s: %v", key, err)
		return ""
	}
	if _, err := t.Render(sampleKeyEnv); err != nil {
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		p.errorf(v, "%s: %s renders to a key %v", key, short(s), err)
		return ""
	}
	return s
}

// paths reads the workspace paths of a cache, or (glob) the doublestar
// patterns of artifacts: a path or a non-empty list of at most limit, each
// listed once. The results are cleaned ("./dist/" is "dist").
func (p *parser) paths(v *yaml.Node, key string, limit int, glob bool) []string {
	if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
		p.errorf(v, "%s: empty list; name at least one path", key)
		return nil
	}
	if v.Kind == yaml.SequenceNode && p.tooMany(v.Content, key, "path", limit) {
		return nil
	}
	var out []string
	seen := make(map[string]bool)
	for _, n := range p.list(v, key, "a path") {
		s, ok := p.workspacePath(n, itemKey(v, n, key), glob)
		switch {
		case !ok:
		case seen[s] && s == n.Value:
			p.errorf(n, "%s: %q is listed twice", key, n.Value)
		case seen[s]:
			p.errorf(n, "%s: %q is listed twice (as %q)", key, n.Value, s)
		default:
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// workspacePath checks that path n stays inside the workspace and names
// part of it, and returns it cleaned. A glob is a doublestar pattern, in
// which ".." is refused anywhere (braces and classes could spell a ".."
// component otherwise); a plain path must not look like a pattern.
func (p *parser) workspacePath(n *yaml.Node, key string, glob bool) (string, bool) {
	s := n.Value
	switch {
	case strings.ContainsRune(s, 0):
		p.errorf(n, "%s: %q holds a NUL character", key, s)
	case strings.ContainsRune(s, '\\'):
		p.errorf(n, "%s: %q holds a backslash; write paths with \"/\"", key, s)
	case strings.HasPrefix(s, "/"):
		p.errorf(n, "%s: path %q escapes the workspace: it is absolute; write it relative to the workspace", key, s)
	case dotDot(s) || dotDot(path.Clean(s)):
		p.errorf(n, "%s: path %q escapes the workspace: it goes through \"..\"", key, s)
	case glob && strings.Contains(s, ".."):
		p.errorf(n, "%s: pattern %q holds \"..\", which artifact patterns may not hold anywhere", key, s)
	case path.Clean(s) == ".":
		p.errorf(n, "%s: %q is the whole workspace; name the directories or files in it instead", key, s)
	case glob && !doublestar.ValidatePattern(s):
		p.errorf(n, "%s: %q is not a valid pattern", key, s)
	case !glob && strings.ContainsAny(s, "*?[{"):
		p.errorf(n, "%s: %q looks like a pattern; cache paths are directories or files, not patterns", key, s)
	default:
		return path.Clean(s), true
	}
	return "", false
}

// dotDot reports whether slash-separated s has a ".." component.
func dotDot(s string) bool {
	return slices.Contains(strings.Split(s, "/"), "..")
}

// artifacts reads the artifacts of the step named label.
func (p *parser) artifacts(v *yaml.Node, label string) *Artifacts {
	if v.Kind != yaml.MappingNode {
		p.errorf(v, "artifacts: expected a mapping with paths (and expire_in), got %s", kindName(v))
		return nil
	}
	where := "in artifacts of " + label
	fs := p.fields(v)
	a := &Artifacts{ExpireIn: DefaultArtifactExpiry}
	for _, e := range fs {
		switch e.key.Value {
		case "paths":
			a.Paths = p.paths(e.val, "artifacts.paths", MaxArtifactPaths, true)
		case "expire_in":
			a.ExpireIn = p.expireIn(e.val)
		default:
			p.unknownKey(e.key, where, artifactKeys)
		}
	}
	p.required(v, fs, where, "paths")
	return a
}

// daysWeeks matches a number of days or weeks in a duration.
var daysWeeks = regexp.MustCompile(`([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([dw])`)

// expireIn reads how long artifacts are kept: a Go duration that may also
// count days (d) and weeks (w), greater than 0 and at most
// MaxArtifactExpiry.
func (p *parser) expireIn(v *yaml.Node) time.Duration {
	const key = "expire_in"
	switch {
	case v.Kind == yaml.ScalarNode && (v.ShortTag() == tagInt || v.ShortTag() == tagFloat):
		p.errorf(v, "%s: %s has no unit; write it like 30m, 12h, 7d or 2w", key, v.Value)
		return 0
	case v.Kind != yaml.ScalarNode || v.ShortTag() != tagStr:
		p.errorf(v, "%s: expected a duration like 7d, got %s", key, kindName(v))
		return 0
	}
	d, err := parseExpiry(v.Value)
	switch {
	case err != nil:
		p.errorf(v, "%s: bad duration %q (write it like 30m, 12h, 7d or 2w)", key, v.Value)
	case d <= 0:
		p.errorf(v, "%s: must be greater than 0, got %q", key, v.Value)
	case d > MaxArtifactExpiry:
		p.errorf(v, "%s: %q is longer than 90d, the longest artifacts are kept", key, v.Value)
	default:
		return d
	}
	return 0
}

// parseExpiry is time.ParseDuration with days (24h) and weeks (7d) too:
// "2w", "1d12h", "1.5d".
func parseExpiry(s string) (time.Duration, error) {
	hours := daysWeeks.ReplaceAllStringFunc(s, func(m string) string {
		n, unit := m[:len(m)-1], m[len(m)-1]
		f, err := strconv.ParseFloat(n, 64)
		if err != nil {
			return m // left for ParseDuration to refuse
		}
		if f *= 24; unit == 'w' {
			f *= 7
		}
		return strconv.FormatFloat(f, 'f', -1, 64) + "h"
	})
	return time.ParseDuration(hours)
}

// required reports each of keys missing from fs, the entries of mapping v.
func (p *parser) required(v *yaml.Node, fs []entry, where string, keys ...string) {
	for _, k := range keys {
		if lookup(fs, k) == nil {
			p.errorf(v, "missing required key %q %s", k, where)
		}
	}
}

// itemKey names item n of list v in messages: key[i], or key itself when v
// is a single string.
func itemKey(v, n *yaml.Node, key string) string {
	for i, item := range v.Content {
		if deref(item) == n {
			return key + "[" + strconv.Itoa(i) + "]"
		}
	}
	return key
}
