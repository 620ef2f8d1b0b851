package dispatch

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

func TestEventRegisterAndHeartbeat(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, nil)
	now := g.clock.Now()
	g.event(t, ci.RunnerEvent{Kind: ci.EventRegister, RunnerID: "r1", Seq: 1, Time: now.Add(-time.Second),
		Runner: &ci.Runner{ID: "r1", Address: "10.0.0.7:7070", Labels: []string{"linux"}, Capacity: 2}})
	r := g.getRunner(t, "r1")
	if r.State != ci.RunnerActive || r.Address != "10.0.0.7:7070" || r.Capacity != 2 ||
		!r.LastHeartbeat.Equal(now.Add(-time.Second)) || !r.ExpiresAt.Equal(now.Add(10*DefaultLease)) {
		t.Fatalf("registered %+v", r)
	}
	r.Failures = 2
	if err := g.store.PutRunner(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	// A heartbeat updates the load and keeps the failure count.
	g.event(t, ci.RunnerEvent{Kind: ci.EventHeartbeat, RunnerID: "r1", Seq: 2, Time: now,
		Runner: &ci.Runner{ID: "r1", Address: "10.0.0.7:7070", Capacity: 2, Running: 1, State: ci.RunnerDraining}})
	r = g.getRunner(t, "r1")
	if r.Running != 1 || r.State != ci.RunnerDraining || r.Failures != 2 || !r.LastHeartbeat.Equal(now) {
		t.Fatalf("after heartbeat %+v", r)
	}
	// A replayed older heartbeat changes nothing.
	g.event(t, ci.RunnerEvent{Kind: ci.EventHeartbeat, RunnerID: "r1", Seq: 1, Time: now.Add(-time.Second),
		Runner: &ci.Runner{ID: "r1", Capacity: 2, State: ci.RunnerActive}})
	if r = g.getRunner(t, "r1"); r.State != ci.RunnerDraining || r.Running != 1 {
		t.Fatalf("a stale heartbeat applied: %+v", r)
	}
	// A clock ahead does not extend the lease; a move releases the old client.
	g.event(t, ci.RunnerEvent{Kind: ci.EventHeartbeat, RunnerID: "r1", Seq: 3, Time: now.Add(time.Hour),
		Runner: &ci.Runner{ID: "r1", Address: "10.0.0.8:7070", Capacity: 2}})
	if r = g.getRunner(t, "r1"); !r.LastHeartbeat.Equal(now) || r.Address != "10.0.0.8:7070" {
		t.Fatalf("after a heartbeat from the future: %+v", r)
	}
	if !slices.Equal(g.clients.released, []string{"r1"}) {
		t.Errorf("released %v, want [r1]", g.clients.released)
	}
}

// assigned makes a job assigned to runner on attempt.
func (g *rig) assigned(t *testing.T, sha, runner string, attempt int) ci.Job {
	t.Helper()
	j := g.job(t, sha)
	return g.set(t, j.ID, func(j *ci.Job) { j.Status, j.RunnerID, j.Attempt = ci.StatusAssigned, runner, attempt })
}

func jobEvent(j ci.Job, runner string, attempt int, s ci.Status) ci.RunnerEvent {
	return ci.RunnerEvent{Kind: ci.EventJob, RunnerID: runner, JobID: j.ID, Attempt: attempt, Status: s}
}

func TestEventJobForwardOnly(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, nil)
	g.runner(t, "a", 1, 2)
	j := g.assigned(t, "aaa1", "a", 1)
	start := g.clock.Now()
	g.event(t, jobEvent(j, "a", 1, ci.StatusRunning))
	got := g.get(t, j.ID)
	assertJob(t, got, ci.StatusRunning, 1, "a")
	if !got.StartedAt.Equal(start) {
		t.Errorf("StartedAt %v, want %v", got.StartedAt, start)
	}
	g.clock.Add(42 * time.Second)
	g.event(t, jobEvent(j, "a", 1, ci.StatusRunning)) // replayed
	g.event(t, jobEvent(j, "a", 1, ci.StatusSuccess))
	g.event(t, jobEvent(j, "a", 1, ci.StatusRunning)) // replayed after the end
	g.event(t, jobEvent(j, "a", 1, ci.StatusFailure)) // a final state is final
	got = g.get(t, j.ID)
	assertJob(t, got, ci.StatusSuccess, 1, "a")
	if got.FinishedAt.Sub(got.StartedAt) != 42*time.Second {
		t.Errorf("ran %v, want 42s", got.FinishedAt.Sub(got.StartedAt))
	}
	if s := g.status.states(j.ID); !slices.Equal(s, []ci.Status{ci.StatusRunning, ci.StatusSuccess}) {
		t.Errorf("statuses %v, want [running success]", s)
	}
	if r := g.getRunner(t, "a"); r.Running != 0 {
		t.Errorf("runner Running = %d after the job ended, want 0", r.Running)
	}
}

func TestEventJobErrorCarriesReason(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, nil)
	j := g.assigned(t, "aaa2", "a", 1)
	ev := jobEvent(j, "a", 1, ci.StatusError)
	ev.Error = "narwhal.yml:3:5: unknown key"
	g.event(t, ev) // assigned → error directly: the pipeline did not parse
	if got := g.get(t, j.ID); got.Status != ci.StatusError || got.Error != ev.Error {
		t.Fatalf("job %s %q", got.Status, got.Error)
	}
}

func TestEventJobStaleIgnored(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, nil)
	j := g.assigned(t, "aaa3", "b", 2)
	g.event(t, jobEvent(j, "a", 1, ci.StatusFailure)) // the old runner, the old attempt
	g.event(t, jobEvent(j, "b", 1, ci.StatusFailure)) // the old attempt
	g.event(t, jobEvent(j, "a", 2, ci.StatusFailure)) // not its runner
	assertJob(t, g.get(t, j.ID), ci.StatusAssigned, 2, "b")
	if n := len(g.status.states(j.ID)); n != 0 {
		t.Errorf("%d statuses reported for ignored reports", n)
	}
}

func TestEventJobRequeue(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, nil)
	g.runner(t, "a", 1, 2)
	j := g.assigned(t, "aaa4", "a", 1)
	g.event(t, jobEvent(j, "a", 1, ci.StatusRunning))
	back := jobEvent(j, "a", 1, ci.StatusQueued)
	back.Requeue, back.Error = true, "runner draining"
	g.event(t, back)
	g.event(t, back) // redelivered
	got := g.get(t, j.ID)
	assertJob(t, got, ci.StatusQueued, 2, "")
	if !got.Published || got.Waiting != "handed back by runner a" {
		t.Errorf("published %v waiting %q", got.Published, got.Waiting)
	}
	msgs := g.queue.messages(false, ci.RouteJob)
	if len(msgs) != 1 {
		t.Fatalf("%d job messages published, want 1", len(msgs))
	}
	var m ci.JobMessage
	if err := json.Unmarshal(msgs[0].Body, &m); err != nil || m.JobID != j.ID || m.Attempt != 2 {
		t.Fatalf("published %s (%v), want attempt 2 of %s", msgs[0].Body, err, j.ID)
	}
	if st := g.status.last(t, j.ID); st.Status != ci.StatusQueued {
		t.Errorf("last status %s, want queued", st.Status)
	}
}

func stepEvent(j ci.Job, attempt int, name string, status ci.StepStatus) ci.RunnerEvent {
	return ci.RunnerEvent{Kind: ci.EventStep, RunnerID: "a", JobID: j.ID, Attempt: attempt,
		Step: &ci.Step{Name: name, Status: status}}
}

func TestEventSteps(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, nil)
	j := g.assigned(t, "aaa5", "a", 1)
	g.event(t, jobEvent(j, "a", 1, ci.StatusRunning))
	g.event(t, stepEvent(j, 1, "build", "running"))
	g.event(t, stepEvent(j, 1, "build", "success"))
	g.event(t, stepEvent(j, 1, "build", "running")) // replayed: never backwards
	g.event(t, stepEvent(j, 1, "test", "running"))
	g.event(t, stepEvent(j, 0, "lint", "running")) // another attempt
	got := g.get(t, j.ID).Steps
	var names []string
	for _, s := range got {
		names = append(names, s.Name+"="+string(s.Status))
	}
	if !slices.Equal(names, []string{"build=success", "test=running"}) {
		t.Fatalf("steps %v", names)
	}
}

func TestEventMalformedAndUnknown(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, nil)
	bad := []string{`{"kind":`, `{"kind":"job","job_id":"x"}`, `{"kind":"heartbeat","runner_id":"r"}`,
		`{"kind":"step","runner_id":"r","job_id":"x"}`}
	for _, body := range bad {
		if err := g.d.HandleEvent(t.Context(), ci.Delivery{Message: signed(ci.Message{Body: []byte(body)}, "r")}); err == nil {
			t.Errorf("HandleEvent(%s) = nil, want an error", body)
		}
	}
	ok := []string{`{"kind":"reboot","runner_id":"r"}`, `{"kind":"job","runner_id":"r","job_id":"nope","attempt":1,"status":"running"}`}
	for _, body := range ok {
		if err := g.d.HandleEvent(t.Context(), ci.Delivery{Message: signed(ci.Message{Body: []byte(body)}, "r")}); err != nil {
			t.Errorf("HandleEvent(%s) = %v, want nil (dropped)", body, err)
		}
	}
}

// A status reporter that keeps failing is tried StatusAttempts times and
// never fails the handler.
func TestEventStatusFailureDoesNotFail(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{StatusAttempts: 3}, nil)
	g.status.fail = true
	j := g.assigned(t, "aaa6", "a", 1)
	g.event(t, jobEvent(j, "a", 1, ci.StatusRunning))
	assertJob(t, g.get(t, j.ID), ci.StatusRunning, 1, "a")
	if g.status.tries != 3 {
		t.Errorf("Report tried %d times, want 3", g.status.tries)
	}
}
