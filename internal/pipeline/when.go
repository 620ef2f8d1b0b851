package pipeline

import (
	"path"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"gopkg.in/yaml.v3"
)

// Values of When.Event and When.Status.
var (
	events   = []string{"push", "pull_request", "tag", "manual"}
	statuses = []string{"success", "failure", "always"}
	whenKeys = []string{"branch", "event", "ref", "path", "status"}
	pathKeys = []string{"include", "exclude"}
)

// Build is what a when filter is matched against.
type Build struct {
	Branch string // the branch; for a pull request the branch it targets
	Event  string // push, pull_request, tag, manual
	Ref    string // refs/heads/main, refs/tags/v1.0, refs/pull/7/head
	// Files are the files the push or pull request changed, when
	// FilesKnown; unknown files match every path filter.
	Files      []string
	FilesKnown bool
}

// Match reports whether a pipeline or step with this filter runs for b. Each
// non-empty list must contain a match: Branch by path.Match glob (so "*" does
// not cross "/"), Event exactly, Ref by doublestar glob, and Path as
// PathFilter.Match says.
func (w When) Match(b Build) bool {
	switch {
	case len(w.Event) > 0 && !slices.Contains(w.Event, b.Event),
		len(w.Branch) > 0 && !anyMatch(path.Match, w.Branch, b.Branch),
		len(w.Ref) > 0 && !anyMatch(doublestar.Match, w.Ref, b.Ref):
		return false
	}
	return w.Path == nil || !b.FilesKnown || w.Path.Match(b.Files)
}

// Match reports whether some file matches an Include pattern (or Include is
// empty) and no Exclude pattern. Patterns are doublestar globs matched
// against the whole path from the repository root: "*" stays within one
// directory, "**" crosses "/", so "docs/**" matches every file under docs/.
func (f PathFilter) Match(files []string) bool {
	for _, file := range files {
		if (len(f.Include) == 0 || anyMatch(doublestar.Match, f.Include, file)) &&
			!anyMatch(doublestar.Match, f.Exclude, file) {
			return true
		}
	}
	return false
}

// anyMatch reports whether name matches one of patterns.
func anyMatch(match func(pattern, name string) (bool, error), patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := match(p, name); ok {
			return true
		}
	}
	return false
}

// RunsOn reports whether a step with this filter runs given whether the
// pipeline has failed so far (an earlier step failed without allow_failure).
// No status means "success": run only while nothing has failed; "failure"
// runs only after a failure; "always" runs either way.
func (w When) RunsOn(pipelineFailed bool) bool {
	if len(w.Status) == 0 {
		return !pipelineFailed
	}
	for _, s := range w.Status {
		switch {
		case s == "always",
			s == "success" && !pipelineFailed,
			s == "failure" && pipelineFailed:
			return true
		}
	}
	return false
}

// when reads a when mapping of the pipeline (owner "") or of a step (owner
// names it); only steps may filter on status.
func (p *parser) when(v *yaml.Node, owner string) When {
	var w When
	fs, ok := p.mapping(v, "when")
	if !ok {
		return w
	}
	where := "in when"
	if owner != "" {
		where += " of " + owner
	}
	for _, e := range fs {
		switch e.key.Value {
		case "branch":
			w.Branch = p.branches(e.val)
		case "event":
			w.Event = p.oneOf(e.val, "when.event", "an event", events)
		case "ref":
			w.Ref = p.globs(e.val, "when.ref", "a ref pattern")
		case "path":
			w.Path = p.pathFilter(e.val)
		case "status":
			if owner == "" {
				p.errorf(e.key, "when.status is only allowed in steps, not for the whole pipeline")
				continue
			}
			w.Status = p.oneOf(e.val, "when.status", "a status", statuses)
		default:
			p.unknownKey(e.key, where, whenKeys)
		}
	}
	return w
}

// pathFilter reads when.path: a list of patterns (the include list) or a
// mapping of include and exclude lists.
func (p *parser) pathFilter(v *yaml.Node) *PathFilter {
	if v.Kind != yaml.MappingNode {
		return &PathFilter{Include: p.globs(v, "when.path", "a path pattern")}
	}
	var f PathFilter
	for _, e := range p.fields(v) {
		switch e.key.Value {
		case "include":
			f.Include = p.globs(e.val, "when.path.include", "a path pattern")
		case "exclude":
			f.Exclude = p.globs(e.val, "when.path.exclude", "a path pattern")
		default:
			p.unknownKey(e.key, "in when.path", pathKeys)
		}
	}
	return &f
}

// globs reads doublestar patterns and checks that each is valid.
func (p *parser) globs(v *yaml.Node, key, what string) []string {
	pats := p.list(v, key, what)
	for _, pat := range pats {
		if !doublestar.ValidatePattern(pat.Value) {
			p.errorf(pat, "%s: %q is not a valid pattern", key, pat.Value)
		}
	}
	return texts(pats)
}

// branches reads branch globs and checks that each is a valid pattern.
func (p *parser) branches(v *yaml.Node) []string {
	pats := p.list(v, "when.branch", "a branch pattern")
	for _, pat := range pats {
		if _, err := path.Match(pat.Value, ""); err != nil {
			p.errorf(pat, "when.branch: %q is not a valid pattern (see path.Match)", pat.Value)
		}
	}
	return texts(pats)
}

// oneOf reads values that must each be one of allowed.
func (p *parser) oneOf(v *yaml.Node, key, what string, allowed []string) []string {
	vals := p.list(v, key, what)
	for _, n := range vals {
		if !slices.Contains(allowed, n.Value) {
			p.errorf(n, "%s: unknown value %q, want one of %s%s", key, n.Value, strings.Join(allowed, ", "), didYouMean(n.Value, allowed))
		}
	}
	return texts(vals)
}
