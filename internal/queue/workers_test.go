package queue

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// Workers run every item, never more than n at once, on at most n
// goroutines, and Close waits for the handlers under way.
func TestWorkersBoundAndRunAll(t *testing.T) {
	t.Parallel()
	const n, items = 4, 200
	var now, peak, done atomic.Int64
	w := NewWorkers(n, func(int) {
		c := now.Add(1)
		for p := peak.Load(); c > p && !peak.CompareAndSwap(p, c); p = peak.Load() {
		}
		time.Sleep(100 * time.Microsecond)
		now.Add(-1)
		done.Add(1)
	})
	for i := range items {
		if !w.Reserve(context.Background()) {
			t.Fatal("Reserve failed without a deadline")
		}
		w.Run(i)
	}
	w.Close()
	if done.Load() != items {
		t.Errorf("%d items run, want %d", done.Load(), items)
	}
	if p := peak.Load(); p > n {
		t.Errorf("%d handlers at once, want at most %d", p, n)
	}
	if w.started > n {
		t.Errorf("%d workers started, want at most %d", w.started, n)
	}
}

// Reserve waits for a free worker and gives up when ctx ends; a reservation
// released without an item frees the worker again.
func TestWorkersReserveWaits(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	w := NewWorkers(1, func(int) { <-release })
	w.Reserve(context.Background())
	w.Run(1)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if w.Reserve(ctx) {
		t.Fatal("reserved a second worker of one")
	}
	close(release)
	if !w.Reserve(context.Background()) {
		t.Fatal("no worker once the first handler returned")
	}
	w.Release()
	if !w.Reserve(context.Background()) {
		t.Fatal("no worker after Release")
	}
	w.Release()
	w.Close()
}
