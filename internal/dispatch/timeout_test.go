package dispatch

import (
	"slices"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// A pipeline's own timeout (here 2h, as the runner reports it once the
// pipeline is read) replaces the fixed JobTimeout (1h) for the monitor's
// deadline: the job is not timed out at 1h05, and is at 2h plus the grace.
// A running job whose timeout was never reported keeps the 1h backstop.
func TestMonitorHonoursPipelineTimeout(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{JobTimeout: time.Hour, TimeoutGrace: 10 * time.Minute}, nil)
	a := g.runner(t, "a", 2, 2)
	long := g.assigned(t, "tmo1", "a", 1)
	g.event(t, jobEvent(long, "a", 1, ci.StatusRunning)) // started: checkout under way
	ev := jobEvent(long, "a", 1, ci.StatusRunning)       // the pipeline is read
	ev.TimeoutSeconds = int64((2 * time.Hour).Seconds())
	g.event(t, ev)
	g.event(t, ev) // redelivered
	if got := g.get(t, long.ID); got.Status != ci.StatusRunning || got.TimeoutSeconds != 7200 {
		t.Fatalf("job %s timeout %ds, want running with 7200s", got.Status, got.TimeoutSeconds)
	}
	if s := g.status.states(long.ID); !slices.Equal(s, []ci.Status{ci.StatusRunning}) {
		t.Errorf("statuses %v, want one running (a timeout is no new state)", s)
	}
	unknown := g.running(t, "tmo2", "a", 1)

	g.clock.Add(65 * time.Minute)
	g.heartbeat(t, ci.EventHeartbeat, "a", "")
	res := monitor(t, g)
	if res != (MonitorResult{JobsTimedOut: 1}) {
		t.Fatalf("at 1h05: %+v, want only the job without a reported timeout timed out", res)
	}
	assertJob(t, g.get(t, long.ID), ci.StatusRunning, 1, "a")
	if got := g.get(t, unknown.ID); got.Status != ci.StatusError || got.Error != "timed out after 1h0m0s running" {
		t.Fatalf("job without a timeout: %s %q", got.Status, got.Error)
	}

	g.clock.Add(time.Hour) // 2h05: within the grace
	g.heartbeat(t, ci.EventHeartbeat, "a", "")
	if res := monitor(t, g); res != (MonitorResult{}) {
		t.Fatalf("at 2h05: %+v, want nothing", res)
	}
	g.clock.Add(5*time.Minute + time.Second) // past 2h + 10m
	g.heartbeat(t, ci.EventHeartbeat, "a", "")
	if res := monitor(t, g); res != (MonitorResult{JobsTimedOut: 1}) {
		t.Fatalf("past 2h10: %+v, want the job timed out", res)
	}
	if got := g.get(t, long.ID); got.Status != ci.StatusError || got.Error != "timed out after 2h10m0s running" {
		t.Fatalf("job %s %q, want error \"timed out after 2h10m0s running\"", got.Status, got.Error)
	}
	if c := a.cancelled(); !slices.Equal(c, []string{unknown.ID, long.ID}) {
		t.Errorf("cancels %v, want both timed-out jobs cancelled on the runner", c)
	}
}

// The deadline of a running job: the reported timeout plus the grace,
// capped at MaxJobTimeout; JobTimeout while none is reported.
func TestRunLimit(t *testing.T) {
	t.Parallel()
	d := New(Config{JobTimeout: time.Hour, TimeoutGrace: 10 * time.Minute, MaxJobTimeout: 6 * time.Hour}, Deps{})
	for _, c := range []struct {
		secs int64
		want time.Duration
	}{
		{0, time.Hour},
		{600, 20 * time.Minute}, // shorter than JobTimeout: the runner stops it itself
		{7200, 2*time.Hour + 10*time.Minute},
		{6 * 3600, 6 * time.Hour},
		{1 << 62, 6 * time.Hour}, // no overflow
	} {
		if got := d.runLimit(ci.Job{TimeoutSeconds: c.secs}); got != c.want {
			t.Errorf("timeout %ds: limit %v, want %v", c.secs, got, c.want)
		}
	}
}
