package pipeline

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Limits of the values narwhal.yml accepts.
const (
	maxRetry    = 10
	maxDuration = time.Duration(math.MaxInt64)
)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// str returns the text of scalar v (a string, number, boolean or date).
func (p *parser) str(v *yaml.Node, key string) (string, bool) {
	if !isText(v) {
		p.errorf(v, "%s: expected a string, got %s", key, kindName(v))
		return "", false
	}
	return v.Value, true
}

// nonEmpty is str that also rejects the empty string.
func (p *parser) nonEmpty(v *yaml.Node, key string) (string, bool) {
	s, ok := p.str(v, key)
	if ok && strings.TrimSpace(s) == "" {
		p.errorf(v, "%s: must not be empty", key)
		return "", false
	}
	return s, ok
}

// list reads a single string or a list of strings, each non-empty, and
// returns the nodes of the valid items. what names an item in messages ("a
// step name").
func (p *parser) list(v *yaml.Node, key, what string) []*yaml.Node {
	if isText(v) {
		if _, ok := p.nonEmpty(v, key); ok {
			return []*yaml.Node{v}
		}
		return nil
	}
	if v.Kind != yaml.SequenceNode {
		p.errorf(v, "%s: expected %s or a list of them, got %s", key, what, kindName(v))
		return nil
	}
	out := make([]*yaml.Node, 0, len(v.Content))
	for i, item := range v.Content {
		item = deref(item)
		if _, ok := p.nonEmpty(item, key+"["+strconv.Itoa(i)+"]"); ok {
			out = append(out, item)
		}
	}
	return out
}

// texts returns the values of scalar nodes; nil for none.
func texts(ns []*yaml.Node) []string {
	if len(ns) == 0 {
		return nil
	}
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Value
	}
	return out
}

// unique reports items listed more than once.
func (p *parser) unique(items []*yaml.Node, key string) {
	seen := make(map[string]bool, len(items))
	for _, n := range items {
		if seen[n.Value] {
			p.errorf(n, "%s: %q is listed twice", key, n.Value)
		}
		seen[n.Value] = true
	}
}

// duration reads a Go duration string or a whole number of seconds, > 0.
func (p *parser) duration(v *yaml.Node, key string) time.Duration {
	if v.Kind == yaml.ScalarNode && v.ShortTag() == tagFloat {
		p.errorf(v, "%s: expected a duration like 10m or a whole number of seconds, got %s", key, v.Value)
		return 0
	}
	if v.Kind != yaml.ScalarNode || (v.ShortTag() != tagStr && v.ShortTag() != tagInt) {
		p.errorf(v, "%s: expected a duration like 10m, got %s", key, kindName(v))
		return 0
	}
	if v.ShortTag() == tagInt {
		var secs int64
		if err := v.Decode(&secs); err != nil || secs > int64(maxDuration/time.Second) {
			p.errorf(v, "%s: %s seconds is out of range", key, v.Value)
			return 0
		}
		if secs <= 0 {
			p.errorf(v, "%s: must be greater than 0, got %s", key, v.Value)
		}
		return time.Duration(secs) * time.Second
	}
	d, err := time.ParseDuration(v.Value)
	if err != nil {
		p.errorf(v, "%s: bad duration %q (write it like 90s, 10m or 1h30m, or as a number of seconds)", key, v.Value)
		return 0
	}
	if d <= 0 {
		p.errorf(v, "%s: must be greater than 0, got %q", key, v.Value)
	}
	return d
}

// integer reads a whole number between lo and hi.
func (p *parser) integer(v *yaml.Node, key string, lo, hi int) int {
	var n int
	if v.Kind != yaml.ScalarNode || v.ShortTag() != tagInt {
		p.errorf(v, "%s: expected a whole number, got %s", key, kindName(v))
		return 0
	}
	if err := v.Decode(&n); err != nil || n < lo || n > hi {
		p.errorf(v, "%s: must be between %d and %d, got %s", key, lo, hi, v.Value)
		return 0
	}
	return n
}

// boolean reads true or false.
func (p *parser) boolean(v *yaml.Node, key string) bool {
	var b bool
	if v.Kind != yaml.ScalarNode || v.ShortTag() != tagBool || v.Decode(&b) != nil {
		p.errorf(v, "%s: expected true or false, got %s", key, kindName(v))
	}
	return b
}

// env reads environment variables: a mapping of names to strings, numbers
// or booleans (kept as written, so 1.10 stays "1.10"), or the legacy list of
// NAME=VALUE strings.
func (p *parser) env(v *yaml.Node, key string) map[string]string {
	out := make(map[string]string)
	switch v.Kind {
	case yaml.MappingNode:
		for _, e := range p.fields(v) {
			p.envVar(out, e.key, e.key.Value, e.val, key)
		}
	case yaml.SequenceNode:
		p.envList(out, v, key)
	default:
		p.errorf(v, "%s: expected a mapping of names to values or a list of NAME=VALUE, got %s", key, kindName(v))
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (p *parser) envVar(out map[string]string, at *yaml.Node, name string, val *yaml.Node, key string) {
	if !envName.MatchString(name) {
		p.errorf(at, "%s: %q is not a valid variable name (letters, digits and _, not starting with a digit)", key, name)
		return
	}
	if !isText(val) {
		hint := ""
		if val.Kind == yaml.ScalarNode && val.ShortTag() == tagNull {
			hint = ` (write "" for an empty value)`
		}
		p.errorf(val, "%s.%s: expected a string, number or boolean, got %s%s", key, name, kindName(val), hint)
		return
	}
	out[name] = val.Value
}

func (p *parser) envList(out map[string]string, v *yaml.Node, key string) {
	first := make(map[string]bool)
	for i, item := range v.Content {
		item = deref(item)
		ik := key + "[" + strconv.Itoa(i) + "]"
		s, ok := p.str(item, ik)
		if !ok {
			continue
		}
		name, val, found := strings.Cut(s, "=")
		switch {
		case !found:
			p.errorf(item, "%s: expected NAME=VALUE, got %q", ik, s)
		case first[name]:
			p.errorf(item, "%s: %s is set twice", ik, name)
		default:
			first[name] = true
			p.envVar(out, item, name, &yaml.Node{Kind: yaml.ScalarNode, Tag: tagStr, Value: val}, key)
		}
	}
}
