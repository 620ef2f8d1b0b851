package pipeline

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/cachekey"
)

// FuzzParse checks that Parse never panics, that it fails only with Errors
// whose entries have a message, and that what it accepts passes the
// invariants the engine relies on.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/*.yml")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.yml", data)
		if err != nil {
			checkErrors(t, err)
			return
		}
		checkInvariants(t, p)
	})
}

// checkErrors asserts that err is a non-empty Errors, sorted, with messages.
func checkErrors(t *testing.T, err error) {
	t.Helper()
	var errs Errors
	if !errors.As(err, &errs) || len(errs) == 0 {
		t.Fatalf("error is %T %v, want a non-empty Errors", err, err)
	}
	for i, e := range errs {
		if e.Msg == "" || e.File != "fuzz.yml" {
			t.Errorf("error %d has no message or the wrong file: %#v", i, e)
		}
		if i > 0 && (e.Line < errs[i-1].Line || e.Line == errs[i-1].Line && e.Column < errs[i-1].Column) {
			t.Errorf("errors not sorted: %v before %v", errs[i-1], e)
		}
	}
}

// checkInvariants asserts what Parse promises of a pipeline it accepts,
// checked independently of the parser's own code.
func checkInvariants(t *testing.T, p *Pipeline) {
	t.Helper()
	if len(p.Steps) == 0 {
		t.Fatal("pipeline without steps")
	}
	pos := make(map[string]int)
	for i, s := range p.Steps {
		if s.Name == "" || s.Image == "" || len(s.Commands) == 0 {
			t.Fatalf("step %d incomplete: %+v", i, s)
		}
		if _, dup := pos[s.Name]; dup {
			t.Fatalf("step name %q used twice", s.Name)
		}
		pos[s.Name] = i
	}
	for _, s := range p.Steps {
		for _, d := range s.DependsOn {
			if _, ok := pos[d]; !ok {
				t.Fatalf("step %q depends on unknown %q", s.Name, d)
			}
		}
	}
	checkAcyclic(t, p)
	checkOrder(t, p, pos)
	for _, s := range p.Steps {
		checkCache(t, s.Cache)
		checkArtifacts(t, s.Artifacts)
	}
}

// checkCache asserts that a cache parsed has valid key templates and paths
// inside the workspace.
func checkCache(t *testing.T, c *Cache) {
	t.Helper()
	if c == nil {
		return
	}
	for _, k := range append([]string{c.Key}, c.RestoreKeys...) {
		if _, err := cachekey.Parse(k); err != nil {
			t.Fatalf("cache key %q: %v", k, err)
		}
	}
	if len(c.Paths) == 0 {
		t.Fatalf("cache without paths: %+v", c)
	}
	checkInside(t, c.Paths)
}

// checkArtifacts asserts that artifacts have patterns inside the workspace
// and an expiry within bounds.
func checkArtifacts(t *testing.T, a *Artifacts) {
	t.Helper()
	if a == nil {
		return
	}
	if a.ExpireIn <= 0 || a.ExpireIn > MaxArtifactExpiry || len(a.Paths) == 0 {
		t.Fatalf("artifacts %+v", a)
	}
	checkInside(t, a.Paths)
}

// checkInside asserts that each path is clean, relative, not the workspace
// itself and without a ".." component.
func checkInside(t *testing.T, paths []string) {
	t.Helper()
	for _, p := range paths {
		if p == "" || p == "." || path.IsAbs(p) || path.Clean(p) != p || strings.ContainsAny(p, "\\\x00") ||
			slices.Contains(strings.Split(p, "/"), "..") {
			t.Fatalf("path %q is not a clean path inside the workspace", p)
		}
	}
}

// checkAcyclic removes steps without pending dependencies until none are
// left; if it gets stuck there is a cycle.
func checkAcyclic(t *testing.T, p *Pipeline) {
	t.Helper()
	finished := make(map[string]bool)
	for progress := true; progress; {
		progress = false
		for _, s := range p.Steps {
			if !finished[s.Name] && allIn(s.DependsOn, finished) {
				finished[s.Name], progress = true, true
			}
		}
	}
	if len(finished) != len(p.Steps) {
		t.Fatalf("dependency cycle among %v", p.Steps)
	}
}

// checkOrder asserts that Order lists every step once, after its deps.
func checkOrder(t *testing.T, p *Pipeline, pos map[string]int) {
	t.Helper()
	order, err := p.Order()
	if err != nil {
		t.Fatalf("Order: %v", err)
	}
	if len(order) != len(p.Steps) {
		t.Fatalf("Order returned %d steps, want %d", len(order), len(p.Steps))
	}
	done := make(map[string]bool)
	for _, name := range order {
		if _, ok := pos[name]; !ok || done[name] {
			t.Fatalf("Order lists %q wrongly: %v", name, order)
		}
		if !allIn(p.Deps(name), done) {
			t.Fatalf("Order puts %q before one of %v: %v", name, p.Deps(name), order)
		}
		done[name] = true
	}
}

func allIn(names []string, set map[string]bool) bool {
	for _, n := range names {
		if !set[n] {
			return false
		}
	}
	return true
}
