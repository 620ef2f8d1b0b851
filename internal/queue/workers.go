package queue

import (
	"context"
	"sync"
)

// Workers runs a consumer's handlers: at most n at once, on goroutines that
// live as long as the Workers. A consumer that started a goroutine per
// delivery had each handler start on a small stack and grow it, copying it
// on the way (runtime.newstack was 7% of the dispatcher's CPU, issue 15); a
// worker keeps the stack its first handler grew. Workers start as deliveries
// need them, up to n.
//
// A consumer reserves a worker (Reserve), then waits for a delivery, then
// hands it over (Run) or gives the reservation back (Release). So no
// delivery is taken from the broker before a worker is free for it.
type Workers[T any] struct {
	handle  func(T)
	slots   chan struct{} // one per reserved worker
	work    chan T
	mu      sync.Mutex
	started int
	running sync.WaitGroup
}

// NewWorkers returns Workers running handle on up to n (at least 1)
// deliveries at once.
func NewWorkers[T any](n int, handle func(T)) *Workers[T] {
	return &Workers[T]{handle: handle, slots: make(chan struct{}, max(n, 1)), work: make(chan T)}
}

// Reserve waits until a worker is free and reserves it; false when ctx
// ended first.
func (w *Workers[T]) Reserve(ctx context.Context) bool {
	select {
	case w.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// Release gives back a reservation that got no delivery.
func (w *Workers[T]) Release() { <-w.slots }

// Run hands item to the worker reserved for it: an idle one, else a new one
// while fewer than n run, else the one about to be idle.
func (w *Workers[T]) Run(item T) {
	select {
	case w.work <- item:
		return
	default:
	}
	w.mu.Lock()
	spawn := w.started < cap(w.slots)
	if spawn {
		w.started++
	}
	w.mu.Unlock()
	if !spawn {
		w.work <- item
		return
	}
	w.running.Go(func() {
		w.run(item)
		for item := range w.work {
			w.run(item)
		}
	})
}

func (w *Workers[T]) run(item T) {
	defer w.Release()
	w.handle(item)
}

// Close waits for the handlers under way and stops the workers. Nothing may
// be Run after it.
func (w *Workers[T]) Close() {
	close(w.work)
	w.running.Wait()
}
