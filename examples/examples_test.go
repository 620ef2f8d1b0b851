// Package examples holds the tests of the example pipelines people copy:
// each must stay valid narwhal.yml.
package examples

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/pipeline"
)

// TestExamplesParse parses every examples/*/narwhal.yml.
func TestExamplesParse(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*/narwhal.yml")
	if err != nil || len(files) < 2 {
		t.Fatalf("examples: %v, %v", files, err)
	}
	for _, f := range files {
		if _, err := pipeline.ParseFile(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestGoCacheExample: the pipeline-level cache reaches the steps that do
// not turn it off, and each step's artifacts are what its comments say.
func TestGoCacheExample(t *testing.T) {
	t.Parallel()
	p, err := pipeline.ParseFile("go-cache/narwhal.yml")
	if err != nil {
		t.Fatal(err)
	}
	steps := map[string]pipeline.Step{}
	for _, s := range p.Steps {
		steps[s.Name] = s
	}
	want := pipeline.Cache{Key: `go-{{ checksum "go.sum" }}-{{ arch }}`, Paths: []string{".cache/go-build", ".cache/gomod"},
		RestoreKeys: []string{"go-"}}
	for _, name := range []string{"test", "build"} {
		c := steps[name].Cache
		if c == nil || c.Key != want.Key || !slices.Equal(c.Paths, want.Paths) || !slices.Equal(c.RestoreKeys, want.RestoreKeys) {
			t.Errorf("step %s: cache %+v, want %+v", name, c, want)
		}
	}
	if steps["lint"].Cache != nil {
		t.Errorf("lint has cache: false, got %+v", steps["lint"].Cache)
	}
	if a := steps["test"].Artifacts; a == nil || !slices.Equal(a.Paths, []string{"coverage.out"}) || a.ExpireIn != 7*24*time.Hour {
		t.Errorf("test's artifacts: %+v", a)
	}
	if a := steps["build"].Artifacts; a == nil || !slices.Equal(a.Paths, []string{"dist/*.tar.gz"}) || a.ExpireIn != 30*24*time.Hour {
		t.Errorf("build's artifacts: %+v", a)
	}
}
