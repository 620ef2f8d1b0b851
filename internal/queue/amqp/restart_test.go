package amqp

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// TestBrokerRestart stops and starts the broker while messages are being
// published and consumed, and checks the at-least-once contract: every
// message whose Publish returned nil is delivered (duplicates allowed), the
// consumer that was running before the restart resumes on its own, and
// messages that sat in a durable queue across the restart are still there.
//
// It restarts the second test broker (testenv.RestartableAMQPURL), whose lock
// keeps restart tests of other packages from interleaving with it.
func TestBrokerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts the broker (~20 s); skipped with -short")
	}
	cfg := testConfig(t)
	cfg.URL = testenv.RestartableAMQPURL(t)
	q := newQueue(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()

	jobs := newTally()
	consumed := make(chan error, 1)
	go func() { consumed <- q.Consume(ctx, ci.QueueJobs, 20, jobs.handler) }()

	// Even messages are jobs, consumed all along by the consumer above; odd
	// ones are events that nobody consumes until after the restart.
	const n = 200
	confirmed := make(chan ci.Message, n)
	var failures atomic.Int32
	stopped := make(chan struct{})
	go publishAll(ctx, q, n, stopped, confirmed, &failures)

	var sent []ci.Message
	for len(sent) < n/4 {
		sent = append(sent, receive(t, ctx, confirmed))
	}
	t.Logf("%d messages confirmed; stopping the broker", len(sent))
	testenv.StopRabbitMQ(t)
	close(stopped)
	testenv.StartRabbitMQ(t)
	t.Logf("broker restarted")
	for m := range confirmed {
		sent = append(sent, m)
	}
	if len(sent) != n {
		t.Fatalf("%d of %d messages confirmed before the deadline", len(sent), n)
	}
	if failures.Load() == 0 {
		t.Error("no Publish failed: the restart did not happen while publishing")
	}

	events := newTally()
	go q.Consume(ctx, ci.QueueEvents, 20, events.handler)
	for _, m := range sent {
		tally := map[string]*tally{ci.RouteJob: jobs, "event.restart": events}[m.Key]
		if !tally.wait(ctx, m.ID) {
			t.Errorf("confirmed message %s (%s) never delivered", m.ID, m.Key)
		}
	}
	t.Logf("%d publish failures retried; duplicates: %d jobs, %d events",
		failures.Load(), jobs.duplicates(), events.duplicates())
	cancel()
	if err := <-consumed; err != context.DeadlineExceeded && err != context.Canceled {
		t.Errorf("jobs consumer ended with %v, want the context's end", err)
	}
}

// publishAll publishes n messages, retrying each until Publish returns nil
// (the publisher's side of at-least-once). It paces itself so that it is
// publishing while the broker stops, and from the middle on it waits until the
// broker is down, so that the second half meets the outage for sure.
func publishAll(ctx context.Context, q *Queue, n int, stopped <-chan struct{},
	confirmed chan<- ci.Message, failures *atomic.Int32) {
	defer close(confirmed)
	for i := range n {
		if i == n/2 {
			select {
			case <-stopped:
			case <-ctx.Done():
				return
			}
		}
		m := ci.Message{Key: ci.RouteJob, ID: fmt.Sprintf("m-%03d", i), Body: []byte(`{}`)}
		if i%2 == 1 {
			m.Key = "event.restart"
		}
		for {
			pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
			err := q.Publish(pctx, m)
			pcancel()
			if err == nil {
				break
			}
			failures.Add(1)
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
		confirmed <- m
		time.Sleep(20 * time.Millisecond)
	}
}

func receive(t *testing.T, ctx context.Context, ch <-chan ci.Message) ci.Message {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatal("publisher gave up")
		}
		return m
	case <-ctx.Done():
		t.Fatal("publisher stalled before the restart")
		return ci.Message{}
	}
}

// tally counts deliveries per message ID.
type tally struct {
	mu      sync.Mutex
	seen    map[string]int
	changed chan struct{}
}

func newTally() *tally { return &tally{seen: map[string]int{}, changed: make(chan struct{})} }

func (t *tally) handler(_ context.Context, d ci.Delivery) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seen[d.ID]++
	close(t.changed)
	t.changed = make(chan struct{})
	return nil
}

// wait reports whether id was delivered before ctx ends.
func (t *tally) wait(ctx context.Context, id string) bool {
	for {
		t.mu.Lock()
		n, changed := t.seen[id], t.changed
		t.mu.Unlock()
		if n > 0 {
			return true
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return false
		}
	}
}

func (t *tally) duplicates() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	dup := 0
	for _, n := range t.seen {
		dup += n - 1
	}
	return dup
}
