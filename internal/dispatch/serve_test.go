package dispatch

import (
	"context"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue/memq"
)

// TestConsumeEndsQuietlyOnlyWithItsContext: the end of ctx is a clean stop,
// a queue that stops by itself is an error naming the queue.
func TestConsumeEndsQuietlyOnlyWithItsContext(t *testing.T) {
	t.Parallel()
	q := memq.New(memq.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := Consume(ctx, q, ci.QueueJobs, 1, func(context.Context, ci.Delivery) error { return nil }); err != nil {
		t.Errorf("stopped by its context: %v", err)
	}
	q.Close()
	err := Consume(context.Background(), q, ci.QueueJobs, 1, func(context.Context, ci.Delivery) error { return nil })
	if err == nil {
		t.Error("a closed queue: no error")
	}
}
