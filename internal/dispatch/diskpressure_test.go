package dispatch

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/diskguard"
	"github.com/narwhal-ci/narwhal/internal/executor/fake"
	"github.com/narwhal-ci/narwhal/internal/logstore/fs"
	"github.com/narwhal-ci/narwhal/internal/runner"
	"github.com/narwhal-ci/narwhal/internal/runnerkey"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// reportsTo is a runner's outbox that hands each signed report straight to
// a dispatcher, as the queue would.
type reportsTo struct {
	t  *testing.T
	d  *Dispatcher
	mu sync.Mutex
	n  int
}

func (o *reportsTo) Enqueue(ctx context.Context, m ci.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n++
	if err := o.d.HandleEvent(ctx, ci.Delivery{Message: m, Attempt: 1}); err != nil {
		o.t.Errorf("HandleEvent: %v", err)
	}
	return nil
}

func (o *reportsTo) Pending() int { return 0 }

// End to end: a real runner whose disk guard (on a small tmpfs) comes
// under pressure reports it at once; the dispatcher stores it on the
// runner's record, offers it no job and says why in the job's waiting
// reason; once the disk is freed, the job is offered again.
func TestDiskPressureReachesTheWaitingReason(t *testing.T) {
	t.Parallel()
	disk := testenv.Tmpfs(t, "8m")
	g := newRig(t, Config{WaitDelay: time.Second}, nil)
	fr := &fakeRunner{}
	g.clients.mu.Lock()
	g.clients.runners["r1:7070"] = fr
	g.clients.mu.Unlock()
	var r *runner.Runner
	guard, err := diskguard.New(diskguard.Options{Paths: []string{disk}, OnChange: func(string) { r.DiskChanged() }})
	if err != nil {
		t.Fatal(err)
	}
	r, err = runner.New(runner.Config{ID: "r1", Token: runnerkey.Token(testFleetKey, "r1"), Address: "r1:7070",
		Capacity: 1, WorkDir: disk + "/jobs", Heartbeat: time.Hour},
		runner.Deps{Exec: fake.New(), Reports: &reportsTo{t: t, d: g.d}, Logs: fs.New(t.TempDir()), DiskStatus: guard.Status})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.Close(ctx)
	})

	filler := testenv.Fill(t, disk, "filler")
	if err := guard.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	rec := g.getRunner(t, "r1")
	if !strings.Contains(rec.DiskPressure, "above the 85% high watermark") || rec.DiskUsedPercent < 99 {
		t.Fatalf("runner record under pressure: %.1f%% %q", rec.DiskUsedPercent, rec.DiskPressure)
	}
	j := g.job(t, "ddd1")
	g.handle(t, j)
	got := g.get(t, j.ID)
	assertJob(t, got, ci.StatusQueued, 1, "")
	if want := "all 1 matching runners under disk pressure (r1: " + disk; !strings.HasPrefix(got.Waiting, want) {
		t.Fatalf("Waiting = %q, want it to start %q", got.Waiting, want)
	}
	if len(fr.ran()) != 0 {
		t.Fatalf("a runner under pressure was offered %d jobs", len(fr.ran()))
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := guard.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	if rec := g.getRunner(t, "r1"); rec.DiskPressure != "" {
		t.Fatalf("runner record after the pressure: %q", rec.DiskPressure)
	}
	g.handle(t, g.get(t, j.ID))
	assertJob(t, g.get(t, j.ID), ci.StatusAssigned, 1, "r1")
}
