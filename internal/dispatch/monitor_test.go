package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// running makes a job running on runner, on attempt.
func (g *rig) running(t *testing.T, sha, runner string, attempt int) ci.Job {
	t.Helper()
	j := g.job(t, sha)
	return g.set(t, j.ID, func(j *ci.Job) {
		j.Status, j.RunnerID, j.Attempt, j.StartedAt = ci.StatusRunning, runner, attempt, g.clock.Now()
	})
}

func monitor(t *testing.T, g *rig) MonitorResult {
	t.Helper()
	res, err := g.d.Monitor(t.Context())
	if err != nil {
		t.Fatalf("Monitor: %v", err)
	}
	return res
}

func TestMonitorLostRunnerRequeues(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, nil)
	g.runner(t, "dead", 1, 2)
	g.runner(t, "alive", 1, 2)
	lost := g.running(t, "aaa1", "dead", 1)
	kept := g.running(t, "aaa2", "alive", 1)
	g.clock.Add(30 * time.Second)
	g.event(t, ci.RunnerEvent{Kind: ci.EventHeartbeat, RunnerID: "alive", Runner: &ci.Runner{Address: "alive:7070", Capacity: 2, Running: 1}})
	g.clock.Add(20 * time.Second) // dead: silent 50s > 45s; alive: 20s

	res := monitor(t, g)
	if res != (MonitorResult{RunnersOffline: 1, JobsRequeued: 1}) {
		t.Fatalf("result %+v", res)
	}
	if r := g.getRunner(t, "dead"); r.State != ci.RunnerOffline || r.Failures != 1 {
		t.Errorf("dead runner %s failures %d; want offline, 1", r.State, r.Failures)
	}
	if !slices.Equal(g.clients.released, []string{"dead"}) {
		t.Errorf("released %v", g.clients.released)
	}
	got := g.get(t, lost.ID)
	assertJob(t, got, ci.StatusQueued, 2, "")
	if !got.Published || got.Waiting != "runner dead lost" {
		t.Errorf("published %v waiting %q", got.Published, got.Waiting)
	}
	var m ci.JobMessage
	msgs := g.queue.messages(false, ci.RouteJob)
	if len(msgs) != 1 || json.Unmarshal(msgs[0].Body, &m) != nil || m != (ci.JobMessage{JobID: lost.ID, Attempt: 2}) {
		t.Fatalf("job messages %d (%+v); want attempt 2 of the lost job", len(msgs), m)
	}
	assertJob(t, g.get(t, kept.ID), ci.StatusRunning, 1, "alive")
	if st := g.status.last(t, lost.ID); st.Status != ci.StatusQueued {
		t.Errorf("status %s, want queued", st.Status)
	}
	// The requeued job goes to the live runner.
	g.handle(t, got)
	assertJob(t, g.get(t, lost.ID), ci.StatusAssigned, 2, "alive")
	// Nothing more to do.
	if res := monitor(t, g); res != (MonitorResult{}) {
		t.Errorf("second run %+v, want nothing", res)
	}
}

func TestMonitorMaxAttempts(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{MaxAttempts: 3}, nil)
	g.runner(t, "dead", 1, 2)
	j := g.running(t, "bbb1", "dead", 3)
	assigned := g.assigned(t, "bbb2", "gone", 1) // a runner the registry never saw
	g.clock.Add(time.Minute)
	res := monitor(t, g)
	if res != (MonitorResult{RunnersOffline: 1, JobsLost: 1, JobsRequeued: 1}) {
		t.Fatalf("result %+v", res)
	}
	got := g.get(t, j.ID)
	if got.Status != ci.StatusError || got.Error != "runner lost 3 times" || got.FinishedAt.IsZero() {
		t.Fatalf("job %s %q finished %v; want error \"runner lost 3 times\"", got.Status, got.Error, got.FinishedAt)
	}
	assertJob(t, g.get(t, assigned.ID), ci.StatusQueued, 2, "")
	if st := g.status.last(t, j.ID); st.Status != ci.StatusError {
		t.Errorf("status %s, want error", st.Status)
	}
}

func TestMonitorTimeouts(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{JobTimeout: time.Hour}, nil)
	a := g.runner(t, "a", 1, 2)
	long := g.running(t, "ccc1", "a", 1)
	waiting := g.job(t, "ccc2")
	g.clock.Add(30 * time.Minute)
	requeued := g.job(t, "ccc3")
	g.set(t, requeued.ID, func(j *ci.Job) { j.Attempt = 2 }) // gets 2h from creation
	fresh := g.running(t, "ccc4", "a", 1)
	g.clock.Add(31 * time.Minute)
	g.event(t, ci.RunnerEvent{Kind: ci.EventHeartbeat, RunnerID: "a", Runner: &ci.Runner{Address: "a:7070", Capacity: 2, Running: 2}})

	res := monitor(t, g)
	if res != (MonitorResult{JobsTimedOut: 2}) {
		t.Fatalf("result %+v", res)
	}
	for id, want := range map[string]string{
		long.ID:    "timed out after 1h0m0s running",
		waiting.ID: "timed out after 1h0m0s waiting for a runner",
	} {
		if got := g.get(t, id); got.Status != ci.StatusError || got.Error != want {
			t.Errorf("job %s: %s %q, want error %q", id, got.Status, got.Error, want)
		}
	}
	assertJob(t, g.get(t, requeued.ID), ci.StatusQueued, 2, "")
	assertJob(t, g.get(t, fresh.ID), ci.StatusRunning, 1, "a")
	if c := a.cancelled(); !slices.Equal(c, []string{long.ID}) {
		t.Errorf("runner cancels %v, want the timed-out running job", c)
	}
}

func TestMonitorSweepAndMetrics(t *testing.T) {
	t.Parallel()
	sweeps := 0
	g := newRig(t, Config{}, func(d *Deps) {
		d.Sweep = func(context.Context) (int, error) { sweeps++; return 4, nil }
	})
	g.runner(t, "a", 1, 2, "linux")
	g.runner(t, "b", 0, 4)
	g.clock.Add(time.Minute)
	g.event(t, ci.RunnerEvent{Kind: ci.EventHeartbeat, RunnerID: "b", Runner: &ci.Runner{Address: "b:7070", Capacity: 4, Running: 3}})
	res := monitor(t, g)
	if sweeps != 1 || res.Republished != 4 || res.RunnersOffline != 1 {
		t.Fatalf("sweeps %d, result %+v", sweeps, res)
	}
	msgs := g.queue.messages(false, RouteRunnerMetrics) // memq has no metrics readers: unroutable, ignored
	if len(msgs) != 1 {
		t.Fatalf("%d metrics messages", len(msgs))
	}
	var m RunnerMetrics
	if err := json.Unmarshal(msgs[0].Body, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Runners) != 2 || m.Active != 1 || m.Offline != 1 || m.Capacity != 4 || m.Running != 3 ||
		m.Runners[0].ID != "a" || m.Runners[0].State != ci.RunnerOffline {
		t.Fatalf("metrics %+v", m)
	}
}

func TestMonitorSweepErrorJoined(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, func(d *Deps) {
		d.Sweep = func(context.Context) (int, error) { return 0, errors.New("broker down") }
	})
	if _, err := g.d.Monitor(t.Context()); err == nil || err.Error() != "broker down" {
		t.Fatalf("Monitor = %v, want the sweep's error", err)
	}
}

func TestMonitorSweepsExpiredArtifactsAtItsClock(t *testing.T) {
	t.Parallel()
	var at []time.Time
	fail := false
	g := newRig(t, Config{}, func(d *Deps) {
		d.SweepArtifacts = func(_ context.Context, now time.Time) (int, error) {
			at = append(at, now)
			if fail {
				return 1, errors.New("bucket gone")
			}
			return 3, nil
		}
	})
	g.clock.Add(48 * time.Hour)
	if res := monitor(t, g); res.ArtifactsExpired != 3 || len(at) != 1 || !at[0].Equal(g.clock.Now()) {
		t.Fatalf("result %+v, sweeps at %v, want one at %v", res, at, g.clock.Now())
	}
	fail = true
	res, err := g.d.Monitor(t.Context())
	if err == nil || err.Error() != "monitor: sweep expired artifacts: bucket gone" || res.ArtifactsExpired != 1 {
		t.Fatalf("Monitor = %+v, %v; want the sweep's error and its count", res, err)
	}
}
