package runner

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor/fake"
	"github.com/narwhal-ci/narwhal/internal/rpc"
)

func TestCloseHandsBackAndRefuses(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, twoSteps)
	g.exec.Script("build", make(gate).outcome())
	g.run(t, "j", 1)
	g.waitRunning(t, "j", "build")
	if err := g.r.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if final := g.out.final(t, "j"); final.Status != ci.StatusQueued || !final.Requeue {
		t.Fatalf("final: %+v", final)
	}
	evs := g.out.events(t)
	if last := evs[len(evs)-1]; last.Kind != ci.EventHeartbeat || last.Runner.State != ci.RunnerOffline {
		t.Fatalf("last report: %+v", last)
	}
	if _, _, err := g.r.Run(t.Context(), testJob("k", 1)); !errors.Is(err, ci.ErrClosed) {
		t.Fatalf("run after close: %v", err)
	}
	if _, err := g.r.Stats(t.Context()); !errors.Is(err, ci.ErrClosed) {
		t.Fatalf("stats after close: %v", err)
	}
	if err := g.r.Cancel(t.Context(), "j"); !errors.Is(err, ci.ErrClosed) {
		t.Fatalf("cancel after close: %v", err)
	}
}

func TestHeartbeats(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{Heartbeat: 20 * time.Millisecond, Labels: []string{"linux"}, Address: "10.0.0.7:7070", Version: "v1"}, twoSteps)
	ev := g.out.waitFor(t, "heartbeat", func(ev ci.RunnerEvent) bool { return ev.Kind == ci.EventHeartbeat })
	r := ev.Runner
	if r == nil || r.ID != "r1" || r.Address != "10.0.0.7:7070" || r.State != ci.RunnerActive ||
		!slices.Equal(r.Labels, []string{"linux"}) || r.Version != "v1" || r.FreeDiskBytes <= 0 {
		t.Fatalf("heartbeat: %+v", r)
	}
	g.out.mu.Lock()
	defer g.out.mu.Unlock()
	for _, m := range g.out.msgs {
		if m.Key == "event.heartbeat" && m.Headers["load-average"] == "" {
			t.Fatalf("heartbeat without load average: %+v", m.Headers)
		}
	}
}

func TestMetricsAndStats(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{Capacity: 3, Labels: []string{"linux"}, Version: "v9"}, twoSteps)
	g.exec.Script("test", fake.Outcome{ExitCode: 1})
	g.run(t, "fails", 1)
	g.out.final(t, "fails")
	if err := g.r.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	mfs, err := g.r.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			switch {
			case m.Gauge != nil:
				got[name] = m.Gauge.GetValue()
			case m.Counter != nil:
				got[name] = m.Counter.GetValue()
			case m.Histogram != nil:
				got[name] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	want := map[string]float64{
		"narwhal_runner_slots": 3, "narwhal_runner_running_jobs": 0,
		"narwhal_runner_jobs_total{status=failure}":           1,
		"narwhal_runner_job_duration_seconds{status=failure}": 1,
		"narwhal_runner_reports_pending":                      float64(g.out.Pending()),
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	st, err := g.r.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.RunnerID != "r1" || st.Capacity != 3 || len(st.Running) != 0 || st.State != ci.RunnerActive ||
		st.Version != "v9" || !slices.Equal(st.Labels, []string{"linux"}) || st.FreeDiskBytes <= 0 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestInvalidJobIDIsRefused(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, twoSteps)
	for _, id := range []string{"../etc", "a/b", ".hidden"} {
		if _, _, err := g.r.Run(t.Context(), testJob(id, 1)); !errors.Is(err, rpc.ErrInvalidJob) {
			t.Errorf("job ID %q: %v", id, err)
		}
	}
}
