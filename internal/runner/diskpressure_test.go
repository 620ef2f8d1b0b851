package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/diskguard"
	"github.com/narwhal-ci/narwhal/internal/executor/fake"
	"github.com/narwhal-ci/narwhal/internal/logstore/fs"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// The pressure of a real disk guard on a small filesystem reaches the
// dispatcher at once, in a heartbeat sent when it starts (the ticks are an
// hour apart), and again when it ends; meanwhile Run refuses jobs saying
// why.
func TestDiskPressureIsReportedAtOnceAndRefusesJobs(t *testing.T) {
	t.Parallel()
	disk := testenv.Tmpfs(t, "8m")
	out := newOutbox()
	var r *Runner
	g, err := diskguard.New(diskguard.Options{Paths: []string{disk},
		OnChange: func(string) { r.DiskChanged() }})
	if err != nil {
		t.Fatal(err)
	}
	r = startRunner(t, Config{ID: "r1", Capacity: 1, WorkDir: filepath.Join(disk, "jobs"), Heartbeat: time.Hour},
		Deps{Exec: fake.New(), Reports: out, Logs: fs.New(t.TempDir()), Checkout: staticCheckout{twoSteps},
			DiskStatus: g.Status}, 10*time.Second)
	reg := out.waitFor(t, "register", func(ev ci.RunnerEvent) bool { return ev.Kind == ci.EventRegister })
	if reg.Runner.DiskPressure != "" || reg.Runner.DiskUsedPercent >= 50 {
		t.Fatalf("register of an empty disk: %.1f%% %q", reg.Runner.DiskUsedPercent, reg.Runner.DiskPressure)
	}

	filler := testenv.Fill(t, disk, "filler")
	if err := g.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	beat := out.waitFor(t, "heartbeat under pressure", func(ev ci.RunnerEvent) bool {
		return ev.Kind == ci.EventHeartbeat && ev.Runner.DiskPressure != ""
	})
	if p := beat.Runner.DiskPressure; !strings.Contains(p, disk) || !strings.Contains(p, "above the 85% high watermark") ||
		beat.Runner.DiskUsedPercent < 99 {
		t.Fatalf("heartbeat under pressure: %.1f%% %q", beat.Runner.DiskUsedPercent, p)
	}
	ok, why, err := r.Run(t.Context(), testJob("j1", 1))
	if err != nil || ok || !strings.HasPrefix(why, "runner under disk pressure: "+disk) {
		t.Fatalf("run under pressure: accepted=%v reason=%q err=%v", ok, why, err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	// The space comes back once no process holds the file: a child that a
	// parallel test forked while the filler was open may for a moment.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err := g.Check(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, p := g.Status(); p == "" || time.Now().After(deadline) {
			break
		}
	}
	out.waitFor(t, "heartbeat after the pressure", func(ev ci.RunnerEvent) bool {
		return ev.Kind == ci.EventHeartbeat && ev.Runner.DiskPressure == "" && ev.Seq > beat.Seq
	})
	if ok, why, err := r.Run(t.Context(), testJob("j1", 1)); err != nil || !ok {
		t.Fatalf("run after the pressure: accepted=%v reason=%q err=%v", ok, why, err)
	}
	if ev := out.final(t, "j1"); ev.Status != ci.StatusSuccess {
		t.Fatalf("job after the pressure: %s %s", ev.Status, ev.Error)
	}
}

// Without DiskStatus, reports say how full the work dir's filesystem is.
func TestDiskUsedWithoutAGuard(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, twoSteps)
	reg := g.out.waitFor(t, "register", func(ev ci.RunnerEvent) bool { return ev.Kind == ci.EventRegister })
	if reg.Runner.DiskUsedPercent <= 0 || reg.Runner.DiskPressure != "" {
		t.Fatalf("register: %.2f%% %q", reg.Runner.DiskUsedPercent, reg.Runner.DiskPressure)
	}
}
