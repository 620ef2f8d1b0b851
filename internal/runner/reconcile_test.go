package runner

import (
	"slices"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// Register and heartbeats carry the process's boot ID and the jobs held with
// their attempts: what the dispatcher settles its records with.
func TestHeartbeatListsHeldJobs(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{Heartbeat: 20 * time.Millisecond, Capacity: 2}, twoSteps)
	g.exec.Script("build", make(gate).outcome())
	reg := g.out.waitFor(t, "register", func(ev ci.RunnerEvent) bool { return ev.Kind == ci.EventRegister })
	if reg.Runner.BootID == "" || len(reg.Runner.Jobs) != 0 {
		t.Fatalf("register: boot %q jobs %v; want a boot ID and no jobs", reg.Runner.BootID, reg.Runner.Jobs)
	}
	g.run(t, "j", 1)
	g.waitRunning(t, "j", "build")
	g.run(t, "j", 2) // offered again: adopted, reports name attempt 2
	want := []ci.JobRef{{ID: "j", Attempt: 2}}
	hb := g.out.waitFor(t, "heartbeat listing j#2", func(ev ci.RunnerEvent) bool {
		return ev.Kind == ci.EventHeartbeat && slices.Equal(ev.Runner.Jobs, want)
	})
	if hb.Runner.BootID != reg.Runner.BootID {
		t.Fatalf("heartbeat boot %q, register boot %q: want one per process", hb.Runner.BootID, reg.Runner.BootID)
	}
	if err := g.r.Cancel(t.Context(), "j"); err != nil {
		t.Fatal(err)
	}
	g.out.final(t, "j")
	g.out.waitFor(t, "heartbeat without j", func(ev ci.RunnerEvent) bool {
		return ev.Kind == ci.EventHeartbeat && ev.Seq > hb.Seq && len(ev.Runner.Jobs) == 0
	})
}

// Once the pipeline is read, the job is reported running again with the
// limit the engine puts on it: the pipeline's own timeout here.
func TestRunningReportCarriesPipelineTimeout(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, "timeout: 2h\n"+twoSteps)
	g.run(t, "j", 1)
	g.out.final(t, "j")
	var got []int64
	for _, ev := range g.out.events(t) {
		if ev.Kind == ci.EventJob && ev.Status == ci.StatusRunning {
			got = append(got, ev.TimeoutSeconds)
		}
	}
	if !slices.Equal(got, []int64{0, 7200}) {
		t.Fatalf("running reports' timeouts %v, want [0 7200] (before and after the pipeline is read)", got)
	}
}
