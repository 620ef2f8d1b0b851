package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor/docker"
	"github.com/narwhal-ci/narwhal/internal/logstore/fs"
	"github.com/narwhal-ci/narwhal/internal/pipeline"
	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// A real container whose step fills the runner's disk (a 64 MiB tmpfs as
// the work dir) fails with "no space left on device" as its reason; its
// workspace is removed, and the next job on the same runner succeeds.
// TestWithDiskFull covers the reason's wording; this is the whole path.
func TestJobThatFillsTheDiskFailsAndTheRunnerRecovers(t *testing.T) {
	t.Parallel()
	img := testenv.Image(t)
	work := testenv.Tmpfs(t, "64m")
	id := make([]byte, 6)
	rand.Read(id)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ex, err := docker.Connect(ctx, docker.Config{RunnerID: "test-" + hex.EncodeToString(id), StopGrace: time.Second}, log)
	if err != nil {
		testenv.Missing(t, "the Docker engine ("+err.Error()+")")
	}
	t.Cleanup(func() { ex.Sweep(context.Background()); ex.Close() })
	yml := "image: " + img + "\nsteps:\n  - name: fill\n    commands:\n" +
		"      - 'if [ -e filled-once ]; then echo fine > small; cat small; exit 0; fi'\n" +
		"      - dd if=/dev/zero of=big bs=1M count=256\n"
	out := newOutbox()
	r := startRunner(t, Config{ID: "r1", Capacity: 1, WorkDir: work, Heartbeat: time.Hour},
		Deps{Exec: ex, Sweep: ex.Sweep, Reclaim: ex.Reclaim, Reports: out, Logs: fs.New(t.TempDir()),
			Checkout: marked{staticCheckout{yml}}, Logger: log}, 20*time.Second)

	if ok, why, err := r.Run(t.Context(), testJob("fill1", 1)); err != nil || !ok {
		t.Fatalf("run: %v %v %s", ok, err, why)
	}
	ev := finalWithin(t, out, "fill1", time.Minute)
	if ev.Status != ci.StatusFailure || !strings.Contains(ev.Error, noSpace) {
		t.Fatalf("job that fills the disk: %s %q, want failure with %q", ev.Status, ev.Error, noSpace)
	}
	t.Logf("reason: %s", ev.Error)
	waitEmpty(t, r, work)

	if ok, why, err := r.Run(t.Context(), testJob("after1", 1)); err != nil || !ok {
		t.Fatalf("run after: %v %v %s", ok, err, why)
	}
	if ev := finalWithin(t, out, "after1", time.Minute); ev.Status != ci.StatusSuccess {
		t.Fatalf("job after the full disk: %s %q", ev.Status, ev.Error)
	}
}

// marked is a checkout that leaves filled-once in every workspace but the
// first job's, so that one pipeline fills the disk the first time only.
type marked struct{ staticCheckout }

func (m marked) Checkout(ctx context.Context, dir string, job rpc.Job) (*pipeline.Pipeline, error) {
	if job.ID != "fill1" {
		if err := os.WriteFile(filepath.Join(dir, "filled-once"), nil, 0o644); err != nil {
			return nil, err
		}
	}
	return m.staticCheckout.Checkout(ctx, dir, job)
}

// finalWithin waits up to d for the final report of job id.
func finalWithin(t *testing.T, out *outbox, id string, d time.Duration) ci.RunnerEvent {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		for _, ev := range out.events(t) {
			if ev.Kind == ci.EventJob && ev.JobID == id && ev.Status.Final() {
				return ev
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no final report of %s; got %s", id, describe(out.events(t)))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitEmpty waits until the runner holds no job and its work dir is empty:
// the workspace of the job that filled it is gone.
func waitEmpty(t *testing.T, r *Runner, work string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := r.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(work)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("work dir not empty after the job: %v", entries)
	}
	if diskFull(work) {
		t.Fatal("the disk is still full after the job's workspace was removed")
	}
}
