package dispatch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/rpc"
)

func TestHandleJobBestRunnerAccepts(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, nil)
	a := g.runner(t, "a", 1, 2, "linux")
	b := g.runner(t, "b", 0, 2, "linux")
	c := g.runner(t, "c", 0, 2)
	j := g.job(t, "aaa1")
	g.config.labels["aaa1"] = []string{"linux"}
	g.handle(t, j)

	got := g.get(t, j.ID)
	assertJob(t, got, ci.StatusAssigned, 1, "b")
	if !slices.Equal(got.Labels, []string{"linux"}) || got.Waiting != "" {
		t.Errorf("labels %v waiting %q; want [linux] and none", got.Labels, got.Waiting)
	}
	runs := b.ran()
	if len(runs) != 1 || len(a.ran())+len(c.ran()) != 0 {
		t.Fatalf("runs: a %v b %v c %v; want one on b", jobIDs(a.ran()), jobIDs(runs), jobIDs(c.ran()))
	}
	want := rpc.Job{ID: j.ID, Attempt: 1, Repo: "acme/app", CloneURL: j.CloneURL, SHA: "aaa1",
		Ref: j.Ref, Branch: "main", Event: ci.EventPush, Labels: []string{"linux"}}
	if r := runs[0]; r.ID != want.ID || r.Attempt != 1 || r.CloneURL != want.CloneURL || r.SHA != want.SHA ||
		!slices.Equal(r.Labels, want.Labels) || r.CloneToken != "" || r.Secrets != nil {
		t.Errorf("Run got %+v, want %+v", r, want)
	}
	if n := g.getRunner(t, "b").Running; n != 1 {
		t.Errorf("runner b Running = %d after the assignment, want 1", n)
	}
	if st := g.status.last(t, j.ID); st.Status != ci.StatusAssigned || st.RunnerID != "b" {
		t.Errorf("status reported %s on %q, want assigned on b", st.Status, st.RunnerID)
	}
}

func TestHandleJobFullRunnerRejectsNextTakes(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, nil)
	a := g.runner(t, "a", 0, 2)
	a.runFn = refuse("runner full: 2/2 slots busy")
	b := g.runner(t, "b", 1, 2)
	j := g.job(t, "aaa2")
	g.handle(t, j)

	got := g.get(t, j.ID)
	assertJob(t, got, ci.StatusAssigned, 1, "b") // the refusal did not count an attempt
	if !got.Published {
		t.Error("the refusal left the job unpublished: the sweeper would publish it again")
	}
	if len(a.ran()) != 1 || len(b.ran()) != 1 {
		t.Fatalf("runs: a %d, b %d; want 1 and 1", len(a.ran()), len(b.ran()))
	}
}

// A Run that fails (here: its deadline passed) may still have reached the
// runner: the job is cancelled there before the next runner takes it.
func TestHandleJobRPCErrorNextTakes(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, nil)
	a := g.runner(t, "a", 0, 2)
	a.runFn = func(rpc.Job) (bool, string, error) { return false, "", context.DeadlineExceeded }
	b := g.runner(t, "b", 1, 2)
	j := g.job(t, "aaa3")
	g.handle(t, j)
	assertJob(t, g.get(t, j.ID), ci.StatusAssigned, 1, "b")
	if len(b.ran()) != 1 || !slices.Equal(a.cancelled(), []string{j.ID}) {
		t.Fatalf("b ran %d jobs, a cancelled %v; want 1 and the job", len(b.ran()), a.cancelled())
	}
}

func TestHandleJobAllBusyWaits(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{WaitDelay: time.Second}, nil)
	g.runner(t, "a", 2, 2)
	g.runner(t, "b", 1, 1)
	j := g.job(t, "aaa4")
	g.handle(t, j)

	got := g.get(t, j.ID)
	assertJob(t, got, ci.StatusQueued, 1, "")
	if got.Waiting != "all 2 matching runners busy" {
		t.Errorf("Waiting = %q", got.Waiting)
	}
	if st := g.status.last(t, j.ID); st.Status != ci.StatusQueued || st.Waiting != got.Waiting {
		t.Errorf("status reported %s %q, want queued with the reason", st.Status, st.Waiting)
	}
	if n := len(g.queue.messages(true, ci.RouteJob)); n != 1 {
		t.Fatalf("%d delayed job messages, want 1", n)
	}
	// The delayed message comes back on the job queue after its bucket.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	var back ci.Delivery
	err := g.queue.Consume(ctx, ci.QueueJobs, 1, func(_ context.Context, d ci.Delivery) error {
		back = d
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || back.ID != j.ID {
		t.Fatalf("consume: %v, message %q; want the job's message back", err, back.ID)
	}
	// Still busy: it waits again, without reporting the same status twice.
	g.handle(t, j)
	if n := len(g.status.states(j.ID)); n != 1 {
		t.Errorf("%d statuses reported, want 1 (the reason did not change)", n)
	}
	if n := len(g.queue.messages(true, ci.RouteJob)); n != 2 {
		t.Errorf("%d delayed messages, want 2", n)
	}
}

func TestHandleJobAllRefuseWaits(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, nil)
	g.runner(t, "a", 0, 2).runFn = refuse("runner full: 2/2 slots busy")
	g.runner(t, "b", 0, 2).runFn = refuse("runner draining")
	j := g.job(t, "aaa5")
	g.handle(t, j)
	got := g.get(t, j.ID)
	assertJob(t, got, ci.StatusQueued, 1, "")
	want := "all 2 candidate runners refused (a: runner full: 2/2 slots busy; b: runner draining)"
	if got.Waiting != want || len(g.queue.messages(true, ci.RouteJob)) != 1 {
		t.Fatalf("Waiting = %q, delayed %d; want %q and 1", got.Waiting, len(g.queue.messages(true, ci.RouteJob)), want)
	}
}

func TestHandleJobNoRunnersWaits(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, nil)
	j := g.job(t, "aaa6")
	g.handle(t, j)
	if got := g.get(t, j.ID); got.Waiting != "no runners registered" {
		t.Fatalf("Waiting = %q", got.Waiting)
	}
}

func TestHandleJobLabels(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, nil)
	g.runner(t, "a", 0, 2, "linux")
	j := g.job(t, "bbb1")
	g.config.labels["bbb1"] = []string{"gpu"}
	g.handle(t, j)
	got := g.get(t, j.ID)
	if got.Waiting != "no runner with labels [gpu]" || !slices.Equal(got.Labels, []string{"gpu"}) {
		t.Fatalf("Waiting %q, labels %v; want the labels reason and [gpu] stored", got.Waiting, got.Labels)
	}
	gpu := g.runner(t, "g", 1, 2, "gpu", "linux")
	g.handle(t, j)
	assertJob(t, g.get(t, j.ID), ci.StatusAssigned, 1, "g")
	if runs := gpu.ran(); len(runs) != 1 || !slices.Equal(runs[0].Labels, []string{"gpu"}) {
		t.Fatalf("gpu runner got %+v", runs)
	}
	if g.config.calls != 1 {
		t.Errorf("labels resolved %d times, want once (stored on the job)", g.config.calls)
	}
}

func TestHandleJobConfigUnreadableWaits(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, nil)
	a := g.runner(t, "a", 0, 2)
	g.config.err = errors.New("github: 502 bad gateway")
	j := g.job(t, "bbb2")
	g.handle(t, j)
	got := g.get(t, j.ID)
	if !strings.HasPrefix(got.Waiting, "cannot read narwhal.yml: ") || len(a.ran()) != 0 {
		t.Fatalf("Waiting %q, runs %d; want the read error and no run", got.Waiting, len(a.ran()))
	}
	if len(g.queue.messages(true, ci.RouteJob)) != 1 {
		t.Fatal("no delayed retry")
	}
}

func TestHandleJobNothingToDo(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, nil)
	a := g.runner(t, "a", 0, 2)
	running := g.job(t, "ddd1")
	g.set(t, running.ID, func(j *ci.Job) { j.Status, j.RunnerID = ci.StatusRunning, "a" })
	g.handle(t, running)
	stale := g.job(t, "ddd2")
	old := delivery(stale) // attempt 1
	g.set(t, stale.ID, func(j *ci.Job) { j.Attempt = 2 })
	if err := g.d.HandleJob(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	if len(a.ran()) != 0 {
		t.Fatalf("runs %v; want none", jobIDs(a.ran()))
	}
	assertJob(t, g.get(t, running.ID), ci.StatusRunning, 1, "a")
	assertJob(t, g.get(t, stale.ID), ci.StatusQueued, 2, "")
}

func TestHandleJobPoison(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, nil)
	for _, body := range []string{`{"job_id":`, `{"attempt":1}`, `{"job_id":"nope","attempt":1}`} {
		err := g.d.HandleJob(t.Context(), ci.Delivery{Message: ci.Message{Key: ci.RouteJob, Body: []byte(body)}, Attempt: 1})
		if err == nil {
			t.Errorf("HandleJob(%s) = nil, want an error", body)
		}
	}
}

// A runner that calls the job invalid: no other runner is tried, and the
// message goes back to the queue.
func TestHandleJobInvalid(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, nil)
	g.runner(t, "a", 0, 2).runFn = func(rpc.Job) (bool, string, error) {
		return false, "", fmt.Errorf("runner a: Run: %w", rpc.ErrInvalidJob)
	}
	b := g.runner(t, "b", 1, 2)
	j := g.job(t, "eee1")
	if err := g.d.HandleJob(t.Context(), delivery(j)); !errors.Is(err, rpc.ErrInvalidJob) {
		t.Fatalf("HandleJob = %v, want ErrInvalidJob", err)
	}
	assertJob(t, g.get(t, j.ID), ci.StatusQueued, 1, "")
	if len(b.ran()) != 0 {
		t.Fatal("b was offered an invalid job")
	}
}

// A job cancelled while its Run is under way is cancelled on the runner.
func TestHandleJobCancelledDuringRun(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, nil)
	a := g.runner(t, "a", 0, 2)
	j := g.job(t, "eee2")
	a.runFn = func(rpc.Job) (bool, string, error) {
		if _, err := g.d.Cancel(t.Context(), j.ID); err != nil {
			t.Errorf("Cancel: %v", err)
		}
		return true, "", nil
	}
	g.handle(t, j)
	if got := g.get(t, j.ID); got.Status != ci.StatusCancelled {
		t.Fatalf("status %s, want cancelled", got.Status)
	}
	if c := a.cancelled(); len(c) == 0 || c[len(c)-1] != j.ID {
		t.Fatalf("runner cancels %v, want the job", c)
	}
}
