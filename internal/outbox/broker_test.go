package outbox_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/outbox"
	"github.com/narwhal-ci/narwhal/internal/queue/amqp"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// TestOutboxSurvivesBrokerRestart is runnerd's reporting path against a real
// outage: the outbox sends through the RabbitMQ queue's Publish; with the
// broker stopped, 20 reports are enqueued (and fail to publish); once the
// broker is back, all 20 arrive, in order, each once, and each was sent
// successfully exactly once.
//
// The one allowed exception is the queue's own at-least-once: a publish that
// failed after the broker started again (its confirm did not come in time)
// may have reached the broker, so the outbox's retry of it may show up twice.
// The test allows a duplicate only for a message with such an attempt.
//
// It stops and starts the restartable test broker (testenv.RestartableAMQPURL,
// whose lock it holds for the whole test, so no other restart test
// interleaves), and does not call t.Parallel.
func TestOutboxSurvivesBrokerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts the broker (~20 s); skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p := &publisher{q: newQueue(t, ctx), ambiguous: map[string]int{}, sent: map[string]int{}}
	opts := outbox.Options{InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}
	o, err := outbox.Open(ctx, t.TempDir(), p.send, opts, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()

	testenv.StopRabbitMQ(t)
	up := false
	defer func() {
		if !up { // never leave the broker down
			testenv.StartRabbitMQ(t)
		}
	}()
	want := ids("report", 20)
	for _, id := range want {
		if err := o.Enqueue(ctx, ci.Message{Key: "event.outbox", ID: id, Body: []byte(`{}`)}); err != nil {
			t.Fatalf("Enqueue(%s): %v", id, err)
		}
	}
	waitFor(t, ctx, "a publish to fail while the broker is down", func() bool { return p.failed() > 0 })
	if n := o.Pending(); n != 20 {
		t.Errorf("%d pending while the broker is down, want 20", n)
	}
	p.restarting.Store(true)
	testenv.StartRabbitMQ(t)
	up = true
	t.Logf("broker restarted after %d failed publishes", p.failed())

	fctx, fcancel := context.WithTimeout(ctx, time.Minute)
	defer fcancel()
	if err := o.Flush(fctx); err != nil {
		t.Fatalf("Flush after the restart: %v (pending %d)", err, o.Pending())
	}
	p.check(t, consume(t, ctx, p.q, len(want)), want)
}

// publisher is the outbox's Send in this test: the queue's Publish with a
// short timeout per attempt, so that attempts fail while the broker is down.
type publisher struct {
	q          *amqp.Queue
	restarting atomic.Bool // set before the broker is started again

	mu        sync.Mutex
	failures  int
	ambiguous map[string]int // failed attempts that may have reached the broker
	sent      map[string]int // attempts that returned nil
}

func (p *publisher) send(ctx context.Context, m ci.Message) error {
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	err := p.q.Publish(pctx, m)
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case err == nil:
		p.sent[m.ID]++
	case p.restarting.Load():
		p.failures++
		p.ambiguous[m.ID]++
	default:
		p.failures++
	}
	return err
}

func (p *publisher) failed() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failures
}

// check compares the consumed IDs with want: first arrivals in order, every
// message published successfully once, duplicates only where allowed.
func (p *publisher) check(t *testing.T, got, want []string) {
	t.Helper()
	count := map[string]int{}
	var first []string
	for _, id := range got {
		if count[id]++; count[id] == 1 {
			first = append(first, id)
		}
	}
	if !slices.Equal(first, want) {
		t.Errorf("consumed %v, want %v", got, want)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range want {
		if p.sent[id] != 1 {
			t.Errorf("%s: send returned nil %d times, want once", id, p.sent[id])
		}
		if extra := count[id] - 1; extra > p.ambiguous[id] {
			t.Errorf("%s delivered %d times with %d ambiguous publishes", id, count[id], p.ambiguous[id])
		} else if extra > 0 {
			t.Logf("%s delivered %d times: a publish that timed out after the restart had reached the broker", id, count[id])
		}
	}
}

// consume reads the events queue one message at a time until n distinct
// messages arrived, then a little longer to catch duplicates, and returns the
// IDs in arrival order.
func consume(t *testing.T, ctx context.Context, q *amqp.Queue, n int) []string {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var got []string
	seen := map[string]bool{}
	enough := make(chan struct{})
	go q.Consume(cctx, ci.QueueEvents, 1, func(_ context.Context, d ci.Delivery) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, d.ID)
		if !seen[d.ID] && len(seen) == n-1 {
			close(enough)
		}
		seen[d.ID] = true
		return nil
	})
	select {
	case <-enough:
		time.Sleep(time.Second) // duplicates would show up now
	case <-cctx.Done():
	}
	cancel()
	mu.Lock()
	defer mu.Unlock()
	return append([]string(nil), got...)
}

func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// newQueue connects to the restartable test broker with a topology of its
// own, and deletes that topology at the end of the test.
func newQueue(t *testing.T, ctx context.Context) *amqp.Queue {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	cfg := amqp.Config{URL: testenv.RestartableAMQPURL(t), Prefix: "test-outbox-" + hex.EncodeToString(b[:]) + ".", BackoffMax: time.Second}
	nctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	q, err := amqp.New(nctx, cfg, testLogger())
	if err != nil {
		t.Fatalf("connect to RabbitMQ: %v", err)
	}
	t.Cleanup(func() {
		q.Close()
		if err := amqp.DeleteTopology(cfg); err != nil {
			t.Errorf("delete topology: %v", err)
		}
	})
	return q
}

// testLogger shows warnings under -v; goroutines may outlive the test, so it
// cannot be t.Log.
func testLogger() *slog.Logger {
	var w io.Writer = io.Discard
	if testing.Verbose() {
		w = os.Stderr
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
