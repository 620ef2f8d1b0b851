package queuetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue"
)

// testRoundTrip: what is published is what is consumed, on the queue its key
// routes to, first delivery, not redelivered.
func testRoundTrip(t *testing.T, q ci.Queue) {
	job := ci.Message{Key: ci.RouteJob, ID: "job-1", Body: []byte(`{"job":1}`),
		Headers: map[string]string{"repo": "octo/cat", "sha": "abc123"}}
	event := ci.Message{Key: "event.runner", ID: "event-1", Body: []byte(`{"event":1}`)}
	publish(t, q, job)
	publish(t, q, event)

	jobs, events := make(chan ci.Delivery, 4), make(chan ci.Delivery, 4)
	startConsume(t, q, ci.QueueJobs, 1, into(jobs, nil))
	startConsume(t, q, ci.QueueEvents, 1, into(events, nil))
	for _, c := range []struct {
		ch   chan ci.Delivery
		want ci.Message
	}{{jobs, job}, {events, event}} {
		d := next(t, c.ch, c.want.ID)
		sameMessage(t, d.Message, c.want)
		if d.Attempt != 1 || d.Redelivered {
			t.Errorf("%s: attempt %d redelivered %v, want 1 false", d.ID, d.Attempt, d.Redelivered)
		}
	}
	none(t, jobs, "a job (each message once)")
}

// testUnroutable: keys nobody is bound to, unknown queues and delays beyond
// the longest bucket are errors, not silent drops.
func testUnroutable(t *testing.T, q ci.Queue) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	m := ci.Message{Key: "nowhere", ID: "lost", Body: []byte(`{}`)}
	if err := q.Publish(ctx, m); !errors.Is(err, queue.ErrUnroutable) {
		t.Errorf("Publish to key %q: err = %v, want ErrUnroutable", m.Key, err)
	}
	if err := q.PublishDelayed(ctx, m, time.Second); !errors.Is(err, queue.ErrUnroutable) {
		t.Errorf("PublishDelayed to key %q: err = %v, want ErrUnroutable", m.Key, err)
	}
	m.Key = ci.RouteJob
	if err := q.PublishDelayed(ctx, m, 2*time.Hour); !errors.Is(err, queue.ErrDelayTooLong) {
		t.Errorf("PublishDelayed 2h: err = %v, want ErrDelayTooLong", err)
	}
	h := func(context.Context, ci.Delivery) error { return nil }
	if err := q.Consume(ctx, "narwhal.nope", 1, h); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("Consume of an unknown queue: err = %v, want ErrNotFound", err)
	}
	// The queue still works after the refusals.
	publish(t, q, m)
	got := make(chan ci.Delivery, 1)
	startConsume(t, q, ci.QueueJobs, 1, into(got, nil))
	sameMessage(t, next(t, got, m.ID).Message, m)
}

// testConcurrentPublishers: many goroutines publishing at once lose nothing,
// and each Publish reports the outcome of its own message.
func testConcurrentPublishers(t *testing.T, q ci.Queue) {
	const publishers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, publishers*each)
	for p := range publishers {
		wg.Go(func() {
			for i := range each {
				m := ci.Message{Key: ci.RouteJob, ID: fmt.Sprintf("p%d-%d", p, i), Body: []byte(`{}`)}
				if err := q.Publish(context.Background(), m); err != nil {
					errs <- fmt.Errorf("publish %s: %w", m.ID, err)
				}
				// Interleaved unroutable publishes: each call gets its own outcome.
				lost := ci.Message{Key: "nowhere", ID: m.ID + "-lost", Body: []byte(`{}`)}
				if err := q.Publish(context.Background(), lost); !errors.Is(err, queue.ErrUnroutable) {
					errs <- fmt.Errorf("publish %s: %v, want ErrUnroutable", lost.ID, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := make(chan ci.Delivery, publishers*each)
	startConsume(t, q, ci.QueueJobs, 16, into(got, nil))
	seen := map[string]int{}
	for range publishers * each {
		seen[next(t, got, "a concurrently published job").ID]++
	}
	for p := range publishers {
		for i := range each {
			if id := fmt.Sprintf("p%d-%d", p, i); seen[id] != 1 {
				t.Errorf("message %s delivered %d times, want 1", id, seen[id])
			}
		}
	}
}

// testClose: Close ends running consumers with ErrClosed, every later call
// returns ErrClosed, and a second Close is harmless.
func testClose(t *testing.T, q ci.Queue) {
	h := func(context.Context, ci.Delivery) error { return nil }
	running := make(chan error, 1)
	go func() { running <- q.Consume(context.Background(), ci.QueueJobs, 1, h) }()
	time.Sleep(200 * time.Millisecond) // let it subscribe
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-running:
		if !errors.Is(err, ci.ErrClosed) {
			t.Errorf("running Consume returned %v, want ErrClosed", err)
		}
	case <-time.After(wait):
		t.Fatal("running Consume did not return after Close")
	}
	ctx := context.Background()
	m := ci.Message{Key: ci.RouteJob, ID: "after-close", Body: []byte(`{}`)}
	if err := q.Publish(ctx, m); !errors.Is(err, ci.ErrClosed) {
		t.Errorf("Publish after Close: %v, want ErrClosed", err)
	}
	if err := q.PublishDelayed(ctx, m, time.Second); !errors.Is(err, ci.ErrClosed) {
		t.Errorf("PublishDelayed after Close: %v, want ErrClosed", err)
	}
	if err := q.Consume(ctx, ci.QueueJobs, 1, h); !errors.Is(err, ci.ErrClosed) {
		t.Errorf("Consume after Close: %v, want ErrClosed", err)
	}
	if err := q.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
}
