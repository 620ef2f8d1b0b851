package github

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

const validYML = "name: build\nlabels: [gpu, linux]\nimage: busybox\nsteps:\n  - name: test\n    commands: true\n"

func TestFetchContentsAPI(t *testing.T) {
	t.Parallel()
	f := newFakeGitHub(t)
	f.files["aaaa"] = validYML
	f.files["bbbb"] = "steps: [\n" // does not parse
	cf := NewConfigFetcher(SharedClient{C: f.client(t)})
	job := func(sha string) ci.Job {
		return ci.Job{Repo: "acme/app", CloneURL: "https://github.com/acme/app.git", SHA: sha}
	}
	cfg, err := cf.Fetch(t.Context(), job("aaaa"))
	if err != nil || cfg.Name != "build" || !slices.Equal(cfg.Labels, []string{"gpu", "linux"}) {
		t.Fatalf("Fetch = %+v, %v", cfg, err)
	}
	for _, sha := range []string{"bbbb", "cccc"} { // invalid, missing
		if cfg, err := cf.Fetch(t.Context(), job(sha)); err != nil || cfg.Name != "" || cfg.Labels != nil {
			t.Errorf("Fetch(%s) = %+v, %v; want nothing and no error", sha, cfg, err)
		}
	}
	gets := f.gets
	labels, err := cf.Labels(t.Context(), job("aaaa"))
	if err != nil || len(labels) != 2 || f.gets != gets {
		t.Errorf("cached Labels = %v, %v after %d more requests", labels, err, f.gets-gets)
	}
	f.failures = 1
	if _, err := cf.Fetch(t.Context(), job("dddd")); err == nil {
		t.Error("a 500 from GitHub gave no error")
	}
	if name, err := NewConfigFetcher(nil).PipelineName(t.Context(), job("aaaa")); err != nil || name != "" {
		t.Errorf("without a client: %q, %v", name, err)
	}
}

func TestFetchLocalGit(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is required")
	}
	dir := t.TempDir()
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	if err := os.WriteFile(filepath.Join(dir, PipelineFile), []byte(validYML), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", PipelineFile)
	git("commit", "-q", "-m", "pipeline")
	withFile := git("rev-parse", "HEAD")
	git("rm", "-q", PipelineFile)
	git("commit", "-q", "-m", "no pipeline")
	without := git("rev-parse", "HEAD")

	cf := NewConfigFetcher(nil)
	for _, url := range []string{"file://" + dir, dir} {
		cfg, err := cf.Fetch(t.Context(), ci.Job{CloneURL: url, SHA: withFile})
		if err != nil || cfg.Name != "build" || !slices.Equal(cfg.Labels, []string{"gpu", "linux"}) {
			t.Errorf("Fetch(%s) = %+v, %v", url, cfg, err)
		}
	}
	for _, sha := range []string{without, "ffffffffffffffffffffffffffffffffffffffff", "--output=/tmp/x"} {
		if cfg, err := cf.Fetch(t.Context(), ci.Job{CloneURL: dir, SHA: sha}); err != nil || cfg.Labels != nil {
			t.Errorf("Fetch(%s) = %+v, %v; want nothing and no error", sha, cfg, err)
		}
	}
}

func TestIsLocal(t *testing.T) {
	t.Parallel()
	for url, want := range map[string]bool{
		"file:///srv/app": true, "/srv/app": true, "../app": true,
		"https://github.com/acme/app.git": false, "git@github.com:acme/app.git": false, "ssh://git@host/app": false,
	} {
		if IsLocal(url) != want {
			t.Errorf("IsLocal(%q) = %v", url, !want)
		}
	}
}

func TestSecretNamesOfAllSteps(t *testing.T) {
	t.Parallel()
	f := newFakeGitHub(t)
	f.files["cccc"] = "image: busybox\nsteps:\n  - name: a\n    commands: true\n    secrets: [TOKEN, NPM]\n" +
		"  - name: b\n    commands: true\n    secrets: TOKEN\n  - name: c\n    commands: true\n"
	names, err := NewConfigFetcher(SharedClient{f.client(t)}).SecretNames(t.Context(),
		ci.Job{Repo: "acme/app", CloneURL: "https://github.com/acme/app.git", SHA: "cccc"})
	if err != nil || !slices.Equal(names, []string{"NPM", "TOKEN"}) {
		t.Fatalf("SecretNames = %v, %v; want NPM, TOKEN", names, err)
	}
}
