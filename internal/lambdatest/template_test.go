package lambdatest

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// samFunction is what the template says about one function.
type samFunction struct {
	BuildMethod string
	Handler     string
	Runtime     string
	Env         map[string]any
}

// templateFunctions reads the functions of template.yaml, globals applied.
// Intrinsic functions (!Ref ...) decode to their arguments.
func templateFunctions(t *testing.T) map[string]samFunction {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(RepoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	type props struct {
		Handler     string `yaml:"Handler"`
		Runtime     string `yaml:"Runtime"`
		Environment struct {
			Variables map[string]any `yaml:"Variables"`
		} `yaml:"Environment"`
	}
	var tpl struct {
		Globals struct {
			Function props `yaml:"Function"`
		} `yaml:"Globals"`
		Resources map[string]struct {
			Type     string `yaml:"Type"`
			Metadata struct {
				BuildMethod string `yaml:"BuildMethod"`
			} `yaml:"Metadata"`
			Properties props `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(raw, &tpl); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	fns := map[string]samFunction{}
	for name, r := range tpl.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		g, p := tpl.Globals.Function, r.Properties
		f := samFunction{BuildMethod: r.Metadata.BuildMethod, Handler: or(p.Handler, g.Handler),
			Runtime: or(p.Runtime, g.Runtime), Env: map[string]any{}}
		for k, v := range g.Environment.Variables {
			f.Env[k] = v
		}
		for k, v := range p.Environment.Variables {
			f.Env[k] = v
		}
		fns[name] = f
	}
	if len(fns) == 0 {
		t.Fatal("template.yaml has no functions")
	}
	return fns
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// buildPackage is the package `make build-<name>` builds (what `sam build`
// runs for BuildMethod makefile), read from a dry run of the Makefile.
func buildPackage(t *testing.T, name string) string {
	t.Helper()
	artifacts := t.TempDir()
	cmd := exec.Command("make", "--no-print-directory", "-n", "build-"+name, "ARTIFACTS_DIR="+artifacts)
	cmd.Dir = RepoRoot(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make build-%s: %v (is the target in the Makefile or an included mk/*.mk?)\n%s", name, err, out)
	}
	recipe := string(out)
	pkg := regexp.MustCompile(`\./functions/[a-z0-9_-]+`).FindString(recipe)
	if pkg == "" || !strings.Contains(recipe, "-o "+artifacts+"/bootstrap") ||
		!strings.Contains(recipe, "-tags "+Tags) || !strings.Contains(recipe, "CGO_ENABLED=0") {
		t.Fatalf("build-%s does not build a static ./functions/... package into $(ARTIFACTS_DIR)/bootstrap:\n%s", name, recipe)
	}
	return pkg
}

var getenvRe = regexp.MustCompile(`[gG]etenv\("(NARWHAL_[A-Z0-9_]+)"\)`)

// readsEnv lists the NARWHAL_ variables the non-test Go files of dir read
// with os.Getenv or an injected getenv.
func readsEnv(t *testing.T, dir string) []string {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		for _, m := range getenvRe.FindAllStringSubmatch(string(src), -1) {
			seen[m[1]] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// TestTemplateFunctions: every function of template.yaml is built by a make
// target for the provided runtime, and declares exactly the NARWHAL_
// variables its code reads (sam local overrides only declared variables;
// a declared one nobody reads is a stale setting).
func TestTemplateFunctions(t *testing.T) {
	t.Parallel()
	for name, fn := range templateFunctions(t) {
		t.Run(name, func(t *testing.T) {
			if fn.BuildMethod != "makefile" || fn.Handler != "bootstrap" || !strings.HasPrefix(fn.Runtime, "provided.") {
				t.Errorf("build %q, handler %q, runtime %q: want makefile, bootstrap, provided.*", fn.BuildMethod, fn.Handler, fn.Runtime)
			}
			pkg := buildPackage(t, name)
			reads := readsEnv(t, filepath.Join(RepoRoot(t), pkg))
			if len(reads) == 0 {
				t.Fatalf("%s reads no NARWHAL_ variable: is the getenv pattern still right?", pkg)
			}
			for _, v := range reads {
				if _, ok := fn.Env[v]; !ok {
					t.Errorf("%s reads %s, which %s does not declare in template.yaml", pkg, v, name)
				}
			}
			for v := range fn.Env {
				if strings.HasPrefix(v, "NARWHAL_") && !slices.Contains(reads, v) {
					t.Errorf("%s declares %s, which %s never reads", name, v, pkg)
				}
			}
		})
	}
}

// TestTemplateArchitecture: both functions run on the Architecture
// parameter (arm64 by default, x86_64 allowed), and every make target
// `sam build` runs builds for the GOARCH of the ARCHITECTURE it is given;
// any other value stops the build.
func TestTemplateArchitecture(t *testing.T) {
	t.Parallel()
	var root yaml.Node
	raw, err := os.ReadFile(filepath.Join(RepoRoot(t), "template.yaml"))
	if err != nil || yaml.Unmarshal(raw, &root) != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	doc := root.Content[0]
	param := lookup(doc, "Parameters", "Architecture")
	if param == nil || lookup(param, "Default").Value != "arm64" || len(lookup(param, "AllowedValues").Content) != 2 {
		t.Fatal("template.yaml needs the parameter Architecture, default arm64, allowed arm64 and x86_64")
	}
	archs := lookup(doc, "Globals", "Function", "Architectures")
	if archs == nil || len(archs.Content) != 1 || archs.Content[0].Tag != "!Ref" || archs.Content[0].Value != "Architecture" {
		t.Fatal("Globals.Function.Architectures must be [!Ref Architecture]")
	}
	goarch := map[string]string{"arm64": "arm64", "x86_64": "amd64"}
	for name := range templateFunctions(t) {
		if lookup(doc, "Resources", name, "Properties", "Architectures") != nil {
			t.Errorf("%s sets its own Architectures", name)
		}
		for _, v := range lookup(param, "AllowedValues").Content {
			recipe := makeDryRun(t, name, "ARCHITECTURE="+v.Value)
			if !strings.Contains(recipe, "GOARCH="+goarch[v.Value]+" ") {
				t.Errorf("make build-%s ARCHITECTURE=%s does not build GOARCH=%s:\n%s", name, v.Value, goarch[v.Value], recipe)
			}
		}
		if recipe := makeDryRun(t, name); !strings.Contains(recipe, "GOARCH=arm64 ") {
			t.Errorf("make build-%s without ARCHITECTURE does not build arm64:\n%s", name, recipe)
		}
		cmd := exec.Command("make", "-n", "build-"+name, "ARTIFACTS_DIR=/nonexistent", "ARCHITECTURE=amd64")
		cmd.Dir = RepoRoot(t)
		if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "ARCHITECTURE must be arm64 or x86_64") {
			t.Errorf("make build-%s ARCHITECTURE=amd64 was accepted:\n%s", name, out)
		}
	}
}

// makeDryRun is the recipe of make build-<name> (make -n) with vars.
func makeDryRun(t *testing.T, name string, vars ...string) string {
	t.Helper()
	cmd := exec.Command("make", append([]string{"--no-print-directory", "-n", "build-" + name, "ARTIFACTS_DIR=/nonexistent"}, vars...)...)
	cmd.Dir = RepoRoot(t)
	cmd.Env = append(os.Environ(), "ARCHITECTURE=", "GOARCH=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make build-%s %v: %v\n%s", name, vars, err, out)
	}
	return string(out)
}
