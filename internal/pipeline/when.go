package pipeline

import (
	"path"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Values of When.Event and When.Status.
var (
	events   = []string{"push", "pull_request", "manual"}
	statuses = []string{"success", "failure", "always"}
	whenKeys = []string{"branch", "event", "status"}
)

// Match reports whether a pipeline or step with this filter runs for a
// build of branch caused by event. Each non-empty list must contain a match:
// Branch by path.Match glob (so "*" does not cross "/"), Event exactly. For a
// pull_request, branch is the branch the pull request targets.
func (w When) Match(branch, event string) bool {
	if len(w.Event) > 0 && !slices.Contains(w.Event, event) {
		return false
	}
	if len(w.Branch) == 0 {
		return true
	}
	for _, pattern := range w.Branch {
		if ok, _ := path.Match(pattern, branch); ok {
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
