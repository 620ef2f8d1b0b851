package arch

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/narwhal-ci/narwhal/"

// pkg is one package of the module as `go list -json` describes it.
type pkg struct {
	ImportPath string
	Imports    []string // direct, non-test
	Deps       []string // transitive, non-test
}

// rule is one import rule: the packages it covers (by path below the module,
// a trailing "/..." for a tree), and what it forbids them.
type rule struct {
	name  string
	who   []string
	check func(p pkg) []string // the offending imports of p
}

// rules are the import rules of DESIGN.md.
var rules = []rule{
	{"ci imports nothing of ours", []string{"internal/ci"}, func(p pkg) []string {
		return matching(p.Imports, func(s string) bool { return strings.HasPrefix(s, module) })
	}},
	{"pipeline and cachekey import only the standard library, yaml.v3, doublestar and cachekey", []string{"internal/pipeline", "internal/cachekey"}, func(p pkg) []string {
		return matching(p.Imports, func(s string) bool {
			// pure: when.ref and when.path globs, cache key templates
			return !stdlib(s) && s != "gopkg.in/yaml.v3" && s != "github.com/bmatcuk/doublestar/v4" && s != module+"internal/cachekey"
		})
	}},
	{"dispatch and runner reach no AWS, Lambda or Docker package, even transitively",
		[]string{"internal/dispatch", "internal/runner", "internal/engine", "internal/ci"}, func(p pkg) []string {
			return matching(p.Deps, func(s string) bool { return aws(s) || docker(s) })
		}},
	{"nothing imports functions/... but the function itself", []string{"..."}, func(p pkg) []string {
		return matching(p.Imports, func(s string) bool {
			return strings.HasPrefix(s, module+"functions/") && !strings.HasPrefix(p.ImportPath+"/", functionOf(s))
		})
	}},
	{"only internal/executor/docker/... imports the Docker SDK", []string{"..."}, func(p pkg) []string {
		// dockertest is the executor's own test helper (a private image in
		// the test registry), dockerevict the disk guard's image and volume
		// evictors.
		if p.ImportPath == module+"internal/executor/docker" || strings.HasPrefix(p.ImportPath, module+"internal/executor/docker/") {
			return nil
		}
		return matching(p.Imports, docker)
	}},
	{"only functions/* and the event adapters import aws-lambda-go", []string{"..."}, func(p pkg) []string {
		for _, ok := range []string{"functions/", "internal/lambdahttp", "internal/mqevent", "internal/mqbridge"} {
			if strings.HasPrefix(p.ImportPath, module+ok) {
				return nil
			}
		}
		return matching(p.Imports, func(s string) bool { return strings.HasPrefix(s, "github.com/aws/aws-lambda-go") })
	}},
}

// TestImportRules checks every rule against every package it covers.
func TestImportRules(t *testing.T) {
	pkgs := listPackages(t)
	for _, r := range rules {
		for _, p := range pkgs {
			if !covers(r.who, p.ImportPath) {
				continue
			}
			if bad := r.check(p); len(bad) > 0 {
				t.Errorf("%s: %s imports %s", r.name, strings.TrimPrefix(p.ImportPath, module), strings.Join(bad, ", "))
			}
		}
	}
}

// TestRulesCatchABreach shows that each kind of rule fires on a package that
// breaks it, so that a rule that can never fail is caught here.
func TestRulesCatchABreach(t *testing.T) {
	breaches := map[string]pkg{
		"ci imports nothing of ours": {ImportPath: module + "internal/ci", Imports: []string{module + "internal/retry"}},
		"pipeline and cachekey import only the standard library, yaml.v3, doublestar and cachekey": {ImportPath: module + "internal/pipeline", Imports: []string{"github.com/google/go-github/v57/github"}},
		"dispatch and runner reach no AWS, Lambda or Docker package, even transitively":            {ImportPath: module + "internal/dispatch", Deps: []string{"github.com/aws/aws-sdk-go-v2/aws"}},
		"nothing imports functions/... but the function itself":                                    {ImportPath: module + "internal/devstack", Imports: []string{module + "functions/agent/agent"}},
		"only internal/executor/docker/... imports the Docker SDK":                                 {ImportPath: module + "runnerd", Imports: []string{"github.com/docker/docker/client"}},
		"only functions/* and the event adapters import aws-lambda-go":                             {ImportPath: module + "internal/api", Imports: []string{"github.com/aws/aws-lambda-go/events"}},
	}
	for _, r := range rules {
		p, ok := breaches[r.name]
		if !ok {
			t.Errorf("rule %q has no breach to show it fires", r.name)
			continue
		}
		if !covers(r.who, p.ImportPath) || len(r.check(p)) == 0 {
			t.Errorf("rule %q does not fire on %s importing %v%v", r.name, p.ImportPath, p.Imports, p.Deps)
		}
	}
}

// listPackages lists the module's packages with their imports.
func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", module+"...")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	for dec := json.NewDecoder(out); ; {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if err := cmd.Wait(); err != nil || len(pkgs) < 20 {
		t.Fatalf("go list: %v (%d packages)", err, len(pkgs))
	}
	return pkgs
}

// covers reports whether the patterns name path ("x/..." a tree, "..." all).
func covers(patterns []string, path string) bool {
	rel := strings.TrimPrefix(path, module)
	return slices.ContainsFunc(patterns, func(p string) bool {
		if tree, ok := strings.CutSuffix(p, "..."); ok {
			return strings.HasPrefix(rel, tree)
		}
		return rel == p
	})
}

// functionOf returns the function tree ("…/functions/agent/") an import under
// functions/ belongs to: a function may import its own packages.
func functionOf(imp string) string {
	parts := strings.SplitN(strings.TrimPrefix(imp, module+"functions/"), "/", 2)
	return module + "functions/" + parts[0]
}

func matching(list []string, bad func(string) bool) []string {
	var out []string
	for _, s := range list {
		if bad(s) {
			out = append(out, s)
		}
	}
	return out
}

func stdlib(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

func aws(path string) bool { return strings.HasPrefix(path, "github.com/aws/") }

func docker(path string) bool {
	return strings.HasPrefix(path, "github.com/docker/docker") || strings.HasPrefix(path, "github.com/moby/moby")
}
