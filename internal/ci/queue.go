package ci

import (
	"context"
	"time"
)

// Names of the queue topology. The RabbitMQ adapter declares them; the
// in-memory queue mirrors them. See docs/queue.md.
const (
	// QueueJobs is the work queue of jobs waiting for a runner.
	QueueJobs = "narwhal.jobs"
	// QueueEvents receives runner reports (job and step state, heartbeats).
	QueueEvents = "narwhal.events"
)

// Message is one queue message. Body is opaque to the queue; Key routes it
// (RabbitMQ routing key on the narwhal exchange, e.g. "job" or "event.runner").
type Message struct {
	Key     string            // routing key; see the Route* constants of the adapters
	ID      string            // message ID, for tracing and dedup by consumers
	Body    []byte            // JSON
	Headers map[string]string // small string metadata
}

// Delivery is a message as a consumer receives it.
type Delivery struct {
	Message
	// Redelivered is true when the broker delivered it before without an ack.
	Redelivered bool
	// Attempt counts deliveries of this message, 1 for the first.
	Attempt int
}

// Handler processes one delivery. Returning nil acknowledges it; an error
// returns it to the queue for redelivery, until the queue's delivery limit
// sends it to the dead-letter queue. Handlers must be idempotent: delivery is
// at least once.
type Handler func(ctx context.Context, d Delivery) error

// Queue is a durable message queue with confirmed publishing.
//
// Contract, for every implementation (see the contract suite in
// internal/queue/queuetest and docs/queue.md):
//   - Publish returns nil only after the broker has taken responsibility for
//     the message (a publisher confirm for RabbitMQ); on error the message may
//     or may not have been queued, so publishers retry and consumers dedup.
//     A key that no queue is bound for is an error (queue.ErrUnroutable), not
//     a silent drop.
//   - PublishDelayed delivers the message to the same destination after delay
//     (the wait queue), for "no runner now, try again later". The delay is
//     rounded up to a fixed bucket (queue.WaitBuckets): the message arrives
//     no sooner than delay, possibly later. A delay <= 0 is a Publish.
//   - Consume delivers messages of queue (ci.QueueJobs, ci.QueueEvents or a
//     dead-letter queue; another name is ErrNotFound) to h, at most prefetch
//     at a time, until ctx ends (it then returns context.Cause(ctx)) or the
//     queue is closed (ErrClosed). Handlers run concurrently and get a context
//     that ends when Consume stops; Consume returns after they have. A
//     message is acked only after h returned nil; a handler error, a crash
//     or a stop before the handler returned redelivers it (Redelivered true,
//     Attempt counting up); after the delivery limit it is dead-lettered.
//     Consume reconnects by itself when the broker goes away and comes back.
//   - All methods are safe for concurrent use. Close releases connections
//     and is idempotent; after it, the other methods return ErrClosed.
type Queue interface {
	Publish(ctx context.Context, m Message) error
	PublishDelayed(ctx context.Context, m Message, delay time.Duration) error
	Consume(ctx context.Context, queue string, prefetch int, h Handler) error
	Close() error
}
