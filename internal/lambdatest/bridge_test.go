package lambdatest

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/mqbridge"
	"github.com/narwhal-ci/narwhal/internal/queue/amqp"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// TestBridgeToEmulator: the bridge feeds a function under the emulator; the
// fixture fails every batch holding a first delivery, so the emulator's
// function error (HTTP 200 with errorMessage) must return the whole batch,
// and the redelivered batch is acked.
func TestBridgeToEmulator(t *testing.T) {
	t.Parallel()
	url := testenv.AMQPURL(t)
	prefix := "lambdatest-bridge-" + randomID() + "."
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q, err := amqp.New(ctx, amqp.Config{URL: url, Prefix: prefix}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close(); deleteTopology(t, url, prefix) })
	for _, id := range []string{"a", "b"} {
		if err := q.Publish(ctx, ci.NewJobMessage(ci.Job{ID: id, Attempt: 1})); err != nil {
			t.Fatal(err)
		}
	}
	fn := fixture(t, Options{Name: "DispatcherFunction"})
	b, err := mqbridge.New(mqbridge.Config{URL: url, Queue: prefix + ci.QueueJobs, Invoker: &mqbridge.Endpoint{URL: fn.URL()},
		BatchSize: 10, Window: 200 * time.Millisecond, FailureDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	s := &services{amqpURL: url, prefix: prefix}
	deadline := time.Now().Add(15 * time.Second)
	for strings.Count(fn.Logs(), "END RequestId") < 2 || s.depth(t, ci.QueueJobs) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the batch was not delivered twice and acked:\n%s", fn.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // room for a wrong third invocation
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	logs := fn.Logs()
	if n := strings.Count(logs, "END RequestId"); n != 2 || strings.Count(logs, "first delivery: failing the batch") != 1 {
		t.Fatalf("%d invocations, want a failed one and its redelivery:\n%s", n, logs)
	}
	if n := s.depth(t, ci.QueueJobs); n != 0 {
		t.Fatalf("%d messages left", n)
	}
}
