// Package queuetest is the contract suite of ci.Queue. Every implementation
// runs it from its own tests:
//
//	func TestContract(t *testing.T) {
//		queuetest.Run(t, func(t *testing.T) ci.Queue { ... })
//	}
//
// The suite needs the topology of internal/queue (the routing keys, the
// dead-letter queues, the wait buckets) and a delivery limit of DeliveryLimit.
package queuetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// DeliveryLimit is the delivery limit the queues given to Run must have: a
// message is delivered DeliveryLimit+1 times, then dead-lettered.
const DeliveryLimit = 2

// wait bounds every wait for something that should happen.
const wait = 15 * time.Second

// quiet is how long a test watches for something that must not happen.
const quiet = 700 * time.Millisecond

// Run runs the contract suite. newQueue returns a fresh queue that no other
// test sees (its own topology), configured with DeliveryLimit, and closes it
// when the test ends. Each test runs in parallel with the others.
func Run(t *testing.T, newQueue func(t *testing.T) ci.Queue) {
	tests := []struct {
		name string
		fn   func(t *testing.T, q ci.Queue)
	}{
		{"RoundTrip", testRoundTrip},
		{"Unroutable", testUnroutable},
		{"HandlerErrorRedelivers", testHandlerErrorRedelivers},
		{"DeliveryLimitDeadLetters", testDeliveryLimit},
		{"PrefetchBoundsInFlight", testPrefetch},
		{"PublishDelayed", testPublishDelayed},
		{"CancelRedeliversInFlight", testCancelRedelivers},
		{"ConcurrentPublishers", testConcurrentPublishers},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newQueue(t))
		})
	}
}

// consumer is a Consume call running in a goroutine.
type consumer struct {
	cancel context.CancelCauseFunc
	done   chan error
	once   sync.Once
	err    error
}

// startConsume runs q.Consume until stop (or the end of the test).
func startConsume(t *testing.T, q ci.Queue, queue string, prefetch int, h ci.Handler) *consumer {
	t.Helper()
	ctx, cancel := context.WithCancelCause(context.Background())
	c := &consumer{cancel: cancel, done: make(chan error, 1)}
	go func() { c.done <- q.Consume(ctx, queue, prefetch, h) }()
	t.Cleanup(func() { c.stop(t, nil) })
	return c
}

// stop cancels the consumer with cause (context.Canceled when nil) and
// returns what Consume returned.
func (c *consumer) stop(t *testing.T, cause error) error {
	t.Helper()
	c.once.Do(func() {
		c.cancel(cause)
		select {
		case c.err = <-c.done:
		case <-time.After(wait):
			c.err = errors.New("Consume did not return after its context was cancelled")
			t.Error(c.err)
		}
	})
	return c.err
}

// into returns a handler that sends each delivery to ch and then returns
// what result says (nil acks).
func into(ch chan<- ci.Delivery, result func(d ci.Delivery) error) ci.Handler {
	return func(ctx context.Context, d ci.Delivery) error {
		select {
		case ch <- d:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		if result == nil {
			return nil
		}
		return result(d)
	}
}

func publish(t *testing.T, q ci.Queue, m ci.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := q.Publish(ctx, m); err != nil {
		t.Fatalf("Publish(%s): %v", m.ID, err)
	}
}

// next receives one delivery or fails the test.
func next(t *testing.T, ch <-chan ci.Delivery, what string) ci.Delivery {
	t.Helper()
	select {
	case d := <-ch:
		return d
	case <-time.After(wait):
		t.Fatalf("no delivery of %s within %v", what, wait)
		return ci.Delivery{}
	}
}

// none fails the test if ch delivers anything during quiet.
func none(t *testing.T, ch <-chan ci.Delivery, what string) {
	t.Helper()
	select {
	case d := <-ch:
		t.Fatalf("unexpected delivery of %s: %s (attempt %d)", what, d.ID, d.Attempt)
	case <-time.After(quiet):
	}
}

// sameMessage fails the test unless got carries want's key, ID, body and headers.
func sameMessage(t *testing.T, got, want ci.Message) {
	t.Helper()
	if got.Key != want.Key || got.ID != want.ID || string(got.Body) != string(want.Body) {
		t.Errorf("got message key=%q id=%q body=%s, want key=%q id=%q body=%s",
			got.Key, got.ID, got.Body, want.Key, want.ID, want.Body)
	}
	if len(got.Headers) != len(want.Headers) {
		t.Errorf("got headers %v, want %v", got.Headers, want.Headers)
	}
	for k, v := range want.Headers {
		if got.Headers[k] != v {
			t.Errorf("header %q = %q, want %q (all: %v)", k, got.Headers[k], v, got.Headers)
		}
	}
}
