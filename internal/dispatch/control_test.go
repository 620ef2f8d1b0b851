package dispatch

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

func TestCancel(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, nil)
	a := g.runner(t, "a", 1, 2)
	queued := g.job(t, "aaa1")
	running := g.running(t, "aaa2", "a", 1)

	got, err := g.d.Cancel(t.Context(), queued.ID)
	if err != nil || got.Status != ci.StatusCancelled || got.Error != CancelReason || got.FinishedAt.IsZero() {
		t.Fatalf("Cancel queued = %s %q, %v", got.Status, got.Error, err)
	}
	if _, err := g.d.Cancel(t.Context(), running.ID); err != nil {
		t.Fatal(err)
	}
	if c := a.cancelled(); len(c) != 1 || c[0] != running.ID {
		t.Fatalf("runner cancels %v, want the running job", c)
	}
	if st := g.status.last(t, running.ID); st.Status != ci.StatusCancelled {
		t.Errorf("status %s, want cancelled", st.Status)
	}
	// The runner's own report of the cancellation changes nothing.
	ev := jobEvent(running, "a", 1, ci.StatusCancelled)
	ev.Error = "cancelled on request"
	g.event(t, ev)
	if got := g.get(t, running.ID); got.Error != CancelReason {
		t.Errorf("error %q after the runner's report, want %q", got.Error, CancelReason)
	}
	again, err := g.d.Cancel(t.Context(), queued.ID)
	var illegal *ci.IllegalTransitionError
	if !errors.Is(err, ErrJobFinished) || !errors.As(err, &illegal) || illegal.From != ci.StatusCancelled ||
		again.Status != ci.StatusCancelled {
		t.Fatalf("Cancel of a finished job = %s, %v; want ErrJobFinished and an IllegalTransitionError", again.Status, err)
	}
	if _, err := g.d.Cancel(t.Context(), "nope"); !errors.Is(err, ci.ErrNotFound) {
		t.Fatalf("Cancel of an unknown job = %v, want ErrNotFound", err)
	}
}

func TestResubmit(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, nil)
	parent := g.job(t, "bbb1")
	parent = g.set(t, parent.ID, func(j *ci.Job) {
		j.Status, j.Labels, j.Author, j.PR, j.Fork = ci.StatusFailure, []string{"gpu"}, "octocat", 7, true
	})
	first, err := g.d.Resubmit(t.Context(), parent.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	second, err := g.d.Resubmit(t.Context(), parent.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if first.ID == second.ID || first.ID == parent.ID {
		t.Fatalf("IDs parent %s, first %s, second %s: want three", parent.ID, first.ID, second.ID)
	}
	if first.Event != ci.EventManual || first.ParentID != parent.ID || first.Status != ci.StatusQueued ||
		first.Attempt != 1 || !first.Published || first.SHA != parent.SHA || first.CloneURL != parent.CloneURL ||
		first.Ref != parent.Ref || first.PR != 7 || !first.Fork || first.Author != "octocat" || len(first.Labels) != 0 {
		t.Fatalf("resubmitted %+v", first)
	}
	msgs := g.queue.messages(false, ci.RouteJob)
	var m ci.JobMessage
	if len(msgs) != 2 || json.Unmarshal(msgs[0].Body, &m) != nil || m.JobID != first.ID {
		t.Fatalf("published %d job messages (first %+v)", len(msgs), m)
	}
	if _, err := g.d.Resubmit(t.Context(), "nope", ""); !errors.Is(err, ci.ErrNotFound) {
		t.Fatalf("Resubmit of an unknown job = %v", err)
	}
}

func TestDrain(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, nil)
	a := g.runner(t, "a", 0, 2)
	if err := g.d.Drain(t.Context(), "a"); err != nil {
		t.Fatal(err)
	}
	if a.drains != 1 || g.getRunner(t, "a").State != ci.RunnerDraining {
		t.Fatalf("drains %d, state %s", a.drains, g.getRunner(t, "a").State)
	}
	j := g.job(t, "ccc1")
	g.handle(t, j)
	if got := g.get(t, j.ID); got.Waiting != "all 1 matching runners offline or draining" || len(a.ran()) != 0 {
		t.Fatalf("after the drain: waiting %q, runs %d", got.Waiting, len(a.ran()))
	}
	if err := g.d.Drain(t.Context(), "nope"); !errors.Is(err, ci.ErrNotFound) {
		t.Fatalf("Drain of an unknown runner = %v", err)
	}
	g.runner(t, "down", 0, 2)
	delete(g.clients.runners, "down:7070")
	if err := g.d.Drain(t.Context(), "down"); err == nil || g.getRunner(t, "down").State != ci.RunnerActive {
		t.Fatalf("Drain of an unreachable runner = %v, state %s; want an error and no change", err, g.getRunner(t, "down").State)
	}
}
