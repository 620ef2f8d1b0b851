package github

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

const srcOnlyYML = "image: busybox\nwhen:\n  path:\n    include: [\"src/**\"]\n    exclude: [\"src/**/*.md\"]\nsteps:\n  - name: test\n    commands: [true]\n"

// gitRepo is a scratch repository for the diff tests.
type gitRepo struct {
	t   *testing.T
	dir string
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is required")
	}
	r := &gitRepo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *gitRepo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", r.dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes files and commits them, returning the SHA.
func (r *gitRepo) commit(files ...string) string {
	r.t.Helper()
	for _, name := range files {
		body := name
		if name == PipelineFile {
			body = srcOnlyYML
		}
		path := filepath.Join(r.dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body+"\n"), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.git("add", "-A")
	r.git("commit", "-q", "-m", fmt.Sprint(files))
	return r.git("rev-parse", "HEAD")
}

// TestSkipLocalDiff: a pipeline filtered to src/** runs for a push that
// touched src/ and is skipped for one that touched only docs/ or only
// src/**/*.md, whether the webhook listed the files or a git diff tells them;
// a pull request is diffed from its merge base (base...head).
func TestSkipLocalDiff(t *testing.T) {
	t.Parallel()
	r := newGitRepo(t)
	first := r.commit(PipelineFile, "src/a.go")
	docs := r.commit("docs/guide.md")
	notes := r.commit("src/notes/readme.md")
	code := r.commit("src/b.go")
	cf := NewConfigFetcher(nil)
	job := func(base, sha string, ev ci.Event) ci.Job {
		return ci.Job{Repo: "local/r", CloneURL: "file://" + r.dir, SHA: sha, Ref: "refs/heads/main", Branch: "main",
			Event: ev, Changes: ci.NewChanges(base, nil, false)}
	}
	cases := []struct {
		name string
		job  ci.Job
		want string
	}{
		{"docs only, diffed", job(first, docs, ci.EventPush), SkipNoPaths},
		{"excluded markdown only", job(docs, notes, ci.EventPush), SkipNoPaths},
		{"code, diffed", job(notes, code, ci.EventPush), ""},
		{"several commits, diffed", job(first, code, ci.EventPush), ""},
		{"listed by the webhook", ci.Job{CloneURL: r.dir, SHA: code, Event: ci.EventPush,
			Changes: ci.NewChanges(notes, []string{"docs/x.md", "README.md"}, true)}, SkipNoPaths},
		{"no base: unknown files match", job("", docs, ci.EventPush), ""},
		{"base git does not know: unknown", job(strings.Repeat("e", 40), docs, ci.EventPush), ""},
	}
	for _, c := range cases {
		if got, err := cf.Skip(t.Context(), c.job); err != nil || got != c.want {
			t.Errorf("%s: Skip = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
	// A pull request from a branch that touched docs only, while main moved
	// on in src/: base...head sees the docs alone.
	r.git("checkout", "-q", "-b", "topic", docs)
	head := r.commit("docs/more.md")
	pr := job(code, head, ci.EventPullRequest)
	if got, err := cf.Skip(t.Context(), pr); err != nil || got != SkipNoPaths {
		t.Errorf("pull request: Skip = %q, %v; want %q", got, err, SkipNoPaths)
	}
}

func TestSkipRefAndEvent(t *testing.T) {
	t.Parallel()
	r := newGitRepo(t)
	if err := os.WriteFile(filepath.Join(r.dir, PipelineFile), []byte(
		"image: busybox\ncancel_superseded: false\nwhen:\n  event: tag\n  ref: [\"refs/tags/v*\"]\nsteps:\n  - name: publish\n    commands: [true]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.git("add", "-A")
	r.git("commit", "-q", "-m", "release")
	sha := r.git("rev-parse", "HEAD")
	cf := NewConfigFetcher(nil)
	for ref, want := range map[string]string{"refs/tags/v1.0": "", "refs/tags/nightly": SkipNoMatch} {
		if got, err := cf.Skip(t.Context(), ci.Job{CloneURL: r.dir, SHA: sha, Ref: ref, Event: ci.EventTag}); err != nil || got != want {
			t.Errorf("tag %s: Skip = %q, %v; want %q", ref, got, err, want)
		}
	}
	if got, _ := cf.Skip(t.Context(), ci.Job{CloneURL: r.dir, SHA: sha, Ref: "refs/heads/main", Event: ci.EventPush}); got != SkipNoMatch {
		t.Errorf("push: Skip = %q, want %q", got, SkipNoMatch)
	}
	if set, err := cf.CancelSuperseded(t.Context(), ci.Job{CloneURL: r.dir, SHA: sha}); err != nil || set == nil || *set {
		t.Errorf("CancelSuperseded = %v, %v; want false", set, err)
	}
}

// TestSkipCompareAPI: for a repository on GitHub the compare API lists the
// files; an answer at its 300-file limit or a 404 leaves them unknown.
func TestSkipCompareAPI(t *testing.T) {
	t.Parallel()
	f := newFakeGitHub(t)
	base, docs, code, many, gone := strings.Repeat("b", 40), strings.Repeat("d", 40), strings.Repeat("c", 40),
		strings.Repeat("a", 40), strings.Repeat("f", 40)
	for _, sha := range []string{docs, code, many, gone} {
		f.files[sha] = srcOnlyYML
	}
	f.compares[base+"..."+docs] = []string{"docs/a.md"}
	f.compares[base+"..."+code] = []string{"docs/a.md", "src/main.go"}
	for i := range compareFileLimit {
		f.compares[base+"..."+many] = append(f.compares[base+"..."+many], fmt.Sprintf("docs/%d.md", i))
	}
	cf := NewConfigFetcher(SharedClient{f.client(t)})
	for sha, want := range map[string]string{docs: SkipNoPaths, code: "", many: "", gone: ""} {
		j := ci.Job{Repo: "acme/app", CloneURL: "https://github.com/acme/app.git", SHA: sha, Event: ci.EventPullRequest,
			Changes: ci.NewChanges(base, nil, false)}
		if got, err := cf.Skip(t.Context(), j); err != nil || got != want {
			t.Errorf("%.4s: Skip = %q, %v; want %q", sha, got, err, want)
		}
	}
}

func TestSkippedCommitStatus(t *testing.T) {
	t.Parallel()
	st := CommitStatus(ci.Job{ID: "j1", Status: ci.StatusSkipped, Error: SkipNoPaths}, "build", "")
	if st.GetState() != "success" || st.GetDescription() != "skipped: no matching paths" {
		t.Errorf("skipped job's status: %s %q", st.GetState(), st.GetDescription())
	}
}
