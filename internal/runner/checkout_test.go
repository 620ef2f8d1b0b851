package runner

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/testenv"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor/fake"
	"github.com/narwhal-ci/narwhal/internal/logstore/fs"
)

func mustUnmarshal(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("unmarshal %s: %v", data, err)
	}
}

// gitRepo makes a repository with one commit of files and returns its
// file:// URL and the commit's SHA.
func gitRepo(t *testing.T, files map[string]string) (string, string) {
	t.Helper()
	dir, sha := testenv.GitRepo(t, files)
	return "file://" + dir, sha
}

// gitRig is a runner with the production checkout on the fake executor.
func gitRig(t *testing.T) *rig {
	t.Helper()
	return gitRigWith(t, GitCheckout{}, nil)
}

// gitRigWith is gitRig with checkout (a GitCheckout with a CAFile) and
// logger (nil: slog's default).
func gitRigWith(t *testing.T, checkout Checkout, logger *slog.Logger) *rig {
	t.Helper()
	g := &rig{exec: fake.New(), out: newOutbox(), logs: fs.New(t.TempDir())}
	r, err := New(Config{ID: "r1", Capacity: 2, WorkDir: t.TempDir()},
		Deps{Exec: g.exec, Reports: g.out, Logs: g.logs, Checkout: checkout, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(t.Context()) })
	g.r = r
	return g
}

func TestCheckoutRunsTheCommitsPipeline(t *testing.T) {
	t.Parallel()
	url, sha := gitRepo(t, map[string]string{"narwhal.yml": "image: busybox\nsteps:\n  - name: hello\n    commands: [\"cat greeting\"]\n",
		"greeting": "hi"})
	g := gitRig(t)
	job := testJob("git", 1)
	job.CloneURL, job.SHA = url, sha
	if ok, reason, err := g.r.Run(t.Context(), job); !ok || err != nil {
		t.Fatal(reason, err)
	}
	if final := g.out.final(t, "git"); final.Status != ci.StatusSuccess {
		t.Fatalf("final: %+v", final)
	}
	// The job is torn down and its workspace removed after the final report.
	if err := g.r.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ops := g.exec.Ops("git"); len(ops) != 3 || ops[1] != "run hello" {
		t.Fatalf("ops: %q", ops)
	}
	if entries, _ := os.ReadDir(g.r.cfg.WorkDir); len(entries) != 0 {
		t.Fatalf("work dir not cleaned: %v", entries)
	}
}

func TestInvalidPipelineIsAnErrorWithPositionsInTheLog(t *testing.T) {
	t.Parallel()
	url, sha := gitRepo(t, map[string]string{"narwhal.yml": "image: busybox\nstpes:\n  - name: a\n    comands: [x]\n"})
	g := gitRig(t)
	job := testJob("bad", 1)
	job.CloneURL, job.SHA = url, sha
	if ok, reason, err := g.r.Run(t.Context(), job); !ok || err != nil {
		t.Fatal(reason, err)
	}
	final := g.out.final(t, "bad")
	if final.Status != ci.StatusError || !strings.HasPrefix(final.Error, "narwhal.yml:1:1: missing required key \"steps\"") ||
		!strings.HasSuffix(final.Error, "(and 1 more in the log)") {
		t.Fatalf("final: %+v", final)
	}
	log, complete := g.readLog(t, "bad")
	if !complete || !strings.Contains(log, "narwhal | narwhal.yml:2:1: unknown key \"stpes\"") {
		t.Fatalf("log (complete=%v):\n%s", complete, log)
	}
	if len(g.exec.Calls()) != 0 {
		t.Fatalf("executor called: %v", g.exec.Calls())
	}
}

func TestCloneFailureIsAnError(t *testing.T) {
	t.Parallel()
	url, _ := gitRepo(t, map[string]string{"narwhal.yml": "steps: []\n"})
	g := gitRig(t)
	job := testJob("nocommit", 1)
	job.CloneURL, job.SHA = url, strings.Repeat("b", 40)
	if ok, reason, err := g.r.Run(t.Context(), job); !ok || err != nil {
		t.Fatal(reason, err)
	}
	final := g.out.final(t, "nocommit")
	if final.Status != ci.StatusError || !strings.Contains(final.Error, "not found") {
		t.Fatalf("final: %+v", final)
	}
	if log, _ := g.readLog(t, "nocommit"); !strings.Contains(log, "narwhal | clone acme/app at bbbb") {
		t.Fatalf("log:\n%s", log)
	}
}

func TestStartSweepsTheWorkDir(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	left := filepath.Join(work, "crashed-job-1234")
	if err := os.MkdirAll(filepath.Join(left, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	swept := false
	r, err := New(Config{ID: "r1", Capacity: 1, WorkDir: work}, Deps{Exec: fake.New(), Reports: newOutbox(),
		Logs: fs.New(t.TempDir()), Sweep: func(ctx context.Context) (int, error) { swept = true; return 3, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer r.Close(t.Context())
	if _, err := os.Stat(left); !os.IsNotExist(err) || !swept {
		t.Fatalf("leftover dir: %v; executor swept: %v", err, swept)
	}
}
