package memq

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue/queuetest"
)

func TestContract(t *testing.T) {
	queuetest.Run(t, func(t *testing.T) ci.Queue {
		q := New(Config{DeliveryLimit: queuetest.DeliveryLimit})
		t.Cleanup(func() { q.Close() })
		return q
	})
}

// TestNoGoroutineLeak: after Close, with consumers, handlers and delayed
// messages pending, every goroutine the queue started is gone.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	q := New(Config{})
	ctx := context.Background()
	for _, d := range []time.Duration{0, time.Millisecond, time.Second, time.Minute} {
		m := ci.Message{Key: ci.RouteJob, ID: d.String(), Body: []byte(`{}`)}
		if err := q.PublishDelayed(ctx, m, d); err != nil {
			t.Fatal(err)
		}
	}
	handled := make(chan struct{}, 8)
	done := make(chan error, 2)
	for _, name := range []string{ci.QueueJobs, ci.QueueEvents} {
		go func() {
			done <- q.Consume(ctx, name, 4, func(ctx context.Context, d ci.Delivery) error {
				handled <- struct{}{}
				<-ctx.Done() // a handler still running at Close
				return context.Cause(ctx)
			})
		}()
	}
	<-handled
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-done; err != ci.ErrClosed {
			t.Errorf("Consume returned %v, want ErrClosed", err)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines before, %d after Close:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}
