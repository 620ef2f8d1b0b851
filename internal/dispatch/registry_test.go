package dispatch

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// gatedRunners is a Store whose ListRunners waits for gate and counts calls.
type gatedRunners struct {
	ci.Store
	gate    chan struct{}
	entered chan struct{}
	calls   atomic.Int32
}

func (s *gatedRunners) ListRunners(ctx context.Context) ([]ci.Runner, error) {
	if s.calls.Add(1) == 1 {
		close(s.entered)
	}
	<-s.gate
	return s.Store.ListRunners(ctx)
}

// Handlers that need the registry while it is being read share that read,
// each getting its own copy of the runners.
func TestRegistryReadShared(t *testing.T) {
	t.Parallel()
	gs := &gatedRunners{gate: make(chan struct{}), entered: make(chan struct{})}
	g := newRig(t, Config{}, func(d *Deps) { gs.Store = d.Store; d.Store = gs })
	g.runner(t, "a", 0, 2)
	const n = 5
	got := make([][]ci.Runner, n)
	var wg sync.WaitGroup
	wg.Go(func() { _, got[0], _, _ = g.d.listRunners(t.Context(), true) })
	<-gs.entered
	for i := 1; i < n; i++ {
		wg.Go(func() { _, got[i], _, _ = g.d.listRunners(t.Context(), true) })
	}
	time.Sleep(20 * time.Millisecond) // the joiners are waiting for the read
	close(gs.gate)
	wg.Wait()
	if c := gs.calls.Load(); c != 1 {
		t.Errorf("%d registry reads for %d handlers, want 1", c, n)
	}
	for i, rs := range got {
		if len(rs) != 1 || rs[0].ID != "a" {
			t.Fatalf("handler %d got %+v", i, rs)
		}
	}
	got[1][0].Running = 9
	if got[2][0].Running != 0 {
		t.Error("the handlers share one slice of runners")
	}
}
