package dispatch

import (
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// heartbeat reports runner id alive with boot and the jobs it holds.
func (g *rig) heartbeat(t *testing.T, kind ci.EventKind, id, boot string, held ...ci.JobRef) {
	t.Helper()
	g.event(t, ci.RunnerEvent{Kind: kind, RunnerID: id, Runner: &ci.Runner{Address: id + ":7070",
		Capacity: 4, Running: len(held), BootID: boot, Jobs: held}})
}

// A live runner's heartbeat that leaves out a job the store has on it
// requeues the job, but only once the heartbeat is later than the job's last
// change by more than the grace: a job assigned moments ago may not be in it.
func TestMonitorRequeuesJobsTheRunnerDoesNotHold(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{ReconcileGrace: 20 * time.Second}, nil)
	g.runner(t, "a", 0, 4)
	held := g.running(t, "rec1", "a", 1)
	dropped := g.running(t, "rec2", "a", 1)
	stale := g.running(t, "rec3", "a", 2) // the runner still names attempt 1
	pending := g.assigned(t, "rec4", "a", 1)
	lists := []ci.JobRef{{ID: held.ID, Attempt: 1}, {ID: stale.ID, Attempt: 1}}

	g.clock.Add(10 * time.Second) // within the grace of every job's last change
	g.heartbeat(t, ci.EventHeartbeat, "a", "boot-1", lists...)
	if res := monitor(t, g); res != (MonitorResult{}) {
		t.Fatalf("within the grace: %+v, want nothing done", res)
	}
	for _, j := range []ci.Job{held, dropped, stale, pending} {
		if got := g.get(t, j.ID); got.Status != j.Status || got.Attempt != j.Attempt {
			t.Fatalf("job %s changed within the grace: %s attempt %d", j.ID, got.Status, got.Attempt)
		}
	}

	g.clock.Add(20 * time.Second) // 30s after: past the grace
	g.heartbeat(t, ci.EventHeartbeat, "a", "boot-1", lists...)
	if res := monitor(t, g); res != (MonitorResult{JobsRequeued: 3}) {
		t.Fatalf("past the grace: %+v, want 3 jobs requeued", res)
	}
	assertJob(t, g.get(t, held.ID), ci.StatusRunning, 1, "a")
	for _, j := range []ci.Job{dropped, stale, pending} {
		got := g.get(t, j.ID)
		assertJob(t, got, ci.StatusQueued, j.Attempt+1, "")
		if !got.Published || !strings.Contains(got.Waiting, "runner a (boot boot-1) does not hold it") {
			t.Errorf("job %s: published %v, waiting %q", j.ID, got.Published, got.Waiting)
		}
	}
	if n := len(g.queue.messages(false, ci.RouteJob)); n != 3 {
		t.Errorf("%d job messages published, want 3", n)
	}
	if res := monitor(t, g); res != (MonitorResult{}) {
		t.Errorf("second run %+v, want nothing", res)
	}
}

// A runner that restarted (a register with a new boot ID, inside the lease)
// has its jobs settled at once, without waiting for the monitor; replayed
// reports of the old process change nothing.
func TestRegisterWithNewBootRequeuesAtOnce(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{ReconcileGrace: 20 * time.Second}, nil)
	g.runner(t, "a", 1, 4)
	j := g.running(t, "boot1", "a", 1)
	g.clock.Add(30 * time.Second)
	old := ci.JobRef{ID: j.ID, Attempt: 1}
	g.heartbeat(t, ci.EventRegister, "a", "boot-1", old) // (a register never lists jobs; a heartbeat would)
	assertJob(t, g.get(t, j.ID), ci.StatusRunning, 1, "a")

	g.clock.Add(5 * time.Second)
	g.heartbeat(t, ci.EventRegister, "a", "boot-2")
	got := g.get(t, j.ID)
	assertJob(t, got, ci.StatusQueued, 2, "")
	if !got.Published || !strings.Contains(got.Waiting, "boot-2") {
		t.Errorf("published %v, waiting %q", got.Published, got.Waiting)
	}
	if r := g.getRunner(t, "a"); r.BootID != "boot-2" || r.Failures != 1 {
		t.Errorf("runner boot %q failures %d, want boot-2 and 1", r.BootID, r.Failures)
	}
	// The old process's heartbeat, delivered late, is older: ignored.
	g.event(t, ci.RunnerEvent{Kind: ci.EventHeartbeat, RunnerID: "a", Time: g.clock.Now().Add(-10 * time.Second),
		Runner: &ci.Runner{Address: "a:7070", Capacity: 4, Running: 1, BootID: "boot-1", Jobs: []ci.JobRef{old}}})
	if r := g.getRunner(t, "a"); r.BootID != "boot-2" {
		t.Errorf("runner boot %q after a replayed report, want boot-2", r.BootID)
	}
	g.handle(t, got) // attempt 2 goes to the runner again
	assertJob(t, g.get(t, j.ID), ci.StatusAssigned, 2, "a")
}

// Runners that predate reconciliation send no boot ID and list no jobs:
// their jobs are left alone while they are alive.
func TestMonitorLeavesJobsOfRunnersWithoutBootID(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{ReconcileGrace: time.Second}, nil)
	j := g.running(t, "noboot", "a", 1)
	g.clock.Add(30 * time.Second)
	g.heartbeat(t, ci.EventRegister, "a", "")
	if res := monitor(t, g); res != (MonitorResult{}) {
		t.Fatalf("%+v, want nothing done", res)
	}
	assertJob(t, g.get(t, j.ID), ci.StatusRunning, 1, "a")
}
