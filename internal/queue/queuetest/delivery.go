package queuetest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue"
)

var errHandler = errors.New("handler failed on purpose")

// testHandlerErrorRedelivers: a handler error returns the message, which comes
// back marked as redelivered, attempt 2; once a handler succeeds it is gone.
func testHandlerErrorRedelivers(t *testing.T, q ci.Queue) {
	m := ci.Message{Key: ci.RouteJob, ID: "flaky", Body: []byte(`{"try":"again"}`)}
	publish(t, q, m)
	got := make(chan ci.Delivery, 4)
	startConsume(t, q, ci.QueueJobs, 1, into(got, func(d ci.Delivery) error {
		if d.Attempt == 1 {
			return errHandler
		}
		return nil
	}))
	first, second := next(t, got, "first try"), next(t, got, "the retry")
	if first.Attempt != 1 || first.Redelivered {
		t.Errorf("first delivery: attempt %d redelivered %v, want 1 false", first.Attempt, first.Redelivered)
	}
	if second.Attempt != 2 || !second.Redelivered {
		t.Errorf("second delivery: attempt %d redelivered %v, want 2 true", second.Attempt, second.Redelivered)
	}
	sameMessage(t, second.Message, m)
	none(t, got, "an acked message")
}

// testDeliveryLimit: a message that always fails is delivered DeliveryLimit+1
// times, then lands in the dead-letter queue and is not delivered again.
func testDeliveryLimit(t *testing.T, q ci.Queue) {
	m := ci.Message{Key: ci.RouteJob, ID: "poison", Body: []byte(`{"poison":true}`),
		Headers: map[string]string{"why": "test"}}
	publish(t, q, m)
	got := make(chan ci.Delivery, DeliveryLimit+4)
	startConsume(t, q, ci.QueueJobs, 1, into(got, func(ci.Delivery) error { return errHandler }))
	for attempt := 1; attempt <= DeliveryLimit+1; attempt++ {
		d := next(t, got, fmt.Sprintf("attempt %d", attempt))
		if d.Attempt != attempt || d.ID != m.ID {
			t.Errorf("delivery %d: %s attempt %d", attempt, d.ID, d.Attempt)
		}
	}
	dead := make(chan ci.Delivery, 2)
	startConsume(t, q, queue.QueueJobsDead, 1, into(dead, nil))
	sameMessage(t, next(t, dead, "the dead-lettered message").Message, m)
	none(t, got, "a dead-lettered message on the work queue")
}

// testPrefetch: with prefetch 2 and slow handlers, exactly 2 run at a time.
func testPrefetch(t *testing.T, q ci.Queue) {
	const n, prefetch = 6, 2
	for i := range n {
		publish(t, q, ci.Message{Key: ci.RouteJob, ID: fmt.Sprint("slow-", i), Body: []byte(`{}`)})
	}
	var inFlight, most atomic.Int32
	done := make(chan ci.Delivery, n)
	startConsume(t, q, ci.QueueJobs, prefetch, func(ctx context.Context, d ci.Delivery) error {
		now := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
		}
		time.Sleep(150 * time.Millisecond)
		done <- d
		return nil
	})
	for range n {
		next(t, done, "a slow job")
	}
	if got := most.Load(); got != prefetch {
		t.Errorf("at most %d handlers ran at once, want exactly %d", got, prefetch)
	}
}

// testPublishDelayed: a delayed message arrives after its delay, not before,
// and intact; a zero delay publishes at once.
func testPublishDelayed(t *testing.T, q ci.Queue) {
	const delay, slack = 300 * time.Millisecond, 50 * time.Millisecond
	later := ci.Message{Key: ci.RouteJob, ID: "later", Body: []byte(`{"later":1}`),
		Headers: map[string]string{"retry": "1"}}
	now := ci.Message{Key: ci.RouteJob, ID: "now", Body: []byte(`{}`)}
	got := make(chan ci.Delivery, 2)
	startConsume(t, q, ci.QueueJobs, 1, into(got, nil))

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	start := time.Now()
	if err := q.PublishDelayed(ctx, later, delay); err != nil {
		t.Fatalf("PublishDelayed: %v", err)
	}
	if err := q.PublishDelayed(ctx, now, 0); err != nil {
		t.Fatalf("PublishDelayed with no delay: %v", err)
	}
	if d := next(t, got, "the undelayed message"); d.ID != now.ID {
		t.Fatalf("first delivery is %s, want %s", d.ID, now.ID)
	}
	d := next(t, got, "the delayed message")
	if elapsed := time.Since(start); elapsed < delay-slack {
		t.Errorf("delayed message arrived after %v, before its delay of %v", elapsed, delay)
	}
	sameMessage(t, d.Message, later)
}

// testCancelRedelivers: cancelling Consume's context ends it with the cause;
// the message its handler did not finish goes to the next consumer.
func testCancelRedelivers(t *testing.T, q ci.Queue) {
	m := ci.Message{Key: ci.RouteJob, ID: "interrupted", Body: []byte(`{}`)}
	publish(t, q, m)
	started := make(chan ci.Delivery, 1)
	first := startConsume(t, q, ci.QueueJobs, 1, func(ctx context.Context, d ci.Delivery) error {
		started <- d
		<-ctx.Done()
		return context.Cause(ctx)
	})
	next(t, started, "the message to the first consumer")
	stopCause := errors.New("shutting down")
	if err := first.stop(t, stopCause); !errors.Is(err, stopCause) {
		t.Errorf("Consume returned %v, want the cancel cause %v", err, stopCause)
	}
	got := make(chan ci.Delivery, 1)
	startConsume(t, q, ci.QueueJobs, 1, into(got, nil))
	d := next(t, got, "the redelivery to the second consumer")
	sameMessage(t, d.Message, m)
	if !d.Redelivered || d.Attempt != 2 {
		t.Errorf("redelivery: attempt %d redelivered %v, want 2 true", d.Attempt, d.Redelivered)
	}
}
