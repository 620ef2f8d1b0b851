package devstack

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/pipeline"
)

const helloDir = "../../examples/hello"

// TestTrimServices: examples/hello without its service still parses, keeps
// every step, and loses only the command that reaches the service.
func TestTrimServices(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(helloDir, pipelineFile))
	if err != nil {
		t.Fatal(err)
	}
	out, err := TrimServices(data)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.Parse(pipelineFile, out)
	if err != nil {
		t.Fatalf("trimmed pipeline: %v\n%s", err, out)
	}
	orig, _ := pipeline.Parse(pipelineFile, data)
	if len(p.Services) != 0 || len(p.Steps) != len(orig.Steps) {
		t.Errorf("services %d (want 0), steps %d (want %d)", len(p.Services), len(p.Steps), len(orig.Steps))
	}
	text := string(out)
	if strings.Contains(text, "http://web:8080") || !strings.Contains(text, "grep -q narwhal out/greeting.txt") {
		t.Errorf("wrong commands dropped:\n%s", text)
	}
	if !strings.HasPrefix(text, "# Trimmed by narwhal dev") {
		t.Errorf("no note on top:\n%s", text)
	}
}

func TestTrimServicesRejectsNonMapping(t *testing.T) {
	t.Parallel()
	if _, err := TrimServices([]byte("- a\n- b\n")); err == nil {
		t.Error("a sequence was accepted")
	}
}

// TestDemoRepo: the demo repository is a git repository with the example's
// files at its root, committed on main, and a second call starts afresh.
func TestDemoRepo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for range 2 {
		c, err := DemoRepo(context.Background(), dir, helloDir, false)
		if err != nil {
			t.Fatal(err)
		}
		repo := filepath.Join(dir, demoRepoDir)
		if c.Branch != "main" || c.CloneURL != "file://"+repo || len(c.SHA) != 40 {
			t.Errorf("commit: %+v", c)
		}
		head, err := git(context.Background(), repo, "rev-parse", "HEAD")
		if err != nil || head != c.SHA {
			t.Errorf("HEAD %s, %v; want %s", head, err, c.SHA)
		}
		if _, err := os.Stat(filepath.Join(repo, pipelineFile)); err != nil {
			t.Error(err)
		}
		if status, _ := git(context.Background(), repo, "status", "--porcelain"); status != "" {
			t.Errorf("uncommitted files:\n%s", status)
		}
	}
}
