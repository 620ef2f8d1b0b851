package amqp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue/queuetest"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// testLogger logs warnings to stderr under -v; goroutines may outlive the
// test, so it cannot be t.Log.
func testLogger() *slog.Logger {
	var w io.Writer = io.Discard
	if testing.Verbose() {
		w = os.Stderr
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// testConfig returns a Config on the test broker with a topology of its own.
func testConfig(t testing.TB) Config {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	return Config{
		URL:           testenv.AMQPURL(t),
		Prefix:        "test-" + hex.EncodeToString(b[:]) + ".",
		DeliveryLimit: queuetest.DeliveryLimit,
		BackoffMax:    time.Second,
	}
}

// newQueue connects with cfg; at the end of the test it closes the queue and
// deletes the topology cfg.Prefix names.
func newQueue(t testing.TB, cfg Config) *Queue {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q, err := New(ctx, cfg, testLogger())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		q.Close()
		if err := DeleteTopology(cfg); err != nil {
			t.Errorf("delete topology: %v", err)
		}
	})
	return q
}

func TestContract(t *testing.T) {
	queuetest.Run(t, func(t *testing.T) ci.Queue { return newQueue(t, testConfig(t)) })
}

// TestDeclareIdempotent: a second connection declares the same topology
// without error; one with other queue arguments fails at once, not after
// retrying until its context ends.
func TestDeclareIdempotent(t *testing.T) {
	cfg := testConfig(t)
	newQueue(t, cfg)
	newQueue(t, cfg)

	cfg.DeliveryLimit++
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	q, err := New(ctx, cfg, testLogger())
	if err == nil {
		q.Close()
		t.Fatal("New with a changed delivery limit succeeded")
	}
	var amqpErr *amqp091.Error
	if !errors.As(err, &amqpErr) || amqpErr.Code != amqp091.PreconditionFailed {
		t.Errorf("err = %v, want PRECONDITION_FAILED", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("New took %v to give up on a permanent error", time.Since(start))
	}
}

// TestNewUnreachable: New retries until its context ends and says why.
func TestNewUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	_, err := New(ctx, Config{URL: "amqp://narwhal:narwhal@127.0.0.1:1/"}, testLogger())
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("err = %v, want deadline exceeded with the last dial error", err)
	}
}

// TestReconnect: when the connection drops, the next Publish dials again and
// a running Consume subscribes again; nothing confirmed is lost.
func TestReconnect(t *testing.T) {
	q := newQueue(t, testConfig(t))
	got := make(chan ci.Delivery, 4)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- q.Consume(ctx, ci.QueueJobs, 1, func(ctx context.Context, d ci.Delivery) error {
			got <- d
			return nil
		})
	}()
	publish := func(id string) {
		t.Helper()
		pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
		defer pcancel()
		if err := q.Publish(pctx, ci.Message{Key: ci.RouteJob, ID: id, Body: []byte(`{}`)}); err != nil {
			t.Fatalf("publish %s: %v", id, err)
		}
	}
	// expect waits for id. A redelivered "before" may come first: the
	// connection can close before the broker had its ack (at least once).
	expect := func(id string) {
		t.Helper()
		for {
			select {
			case d := <-got:
				if d.ID == "before" && id != "before" && d.Redelivered {
					continue
				}
				if d.ID != id {
					t.Fatalf("got %s, want %s", d.ID, id)
				}
				return
			case <-time.After(10 * time.Second):
				t.Fatalf("%s not delivered", id)
			}
		}
	}
	publish("before")
	expect("before")
	old := q.current()
	old.conn.Close() // what a network failure looks like from here
	publish("after")
	expect("after")
	if q.current() == old {
		t.Error("Publish used the closed connection")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Consume returned %v, want context.Canceled", err)
	}
}
