// Package queue holds what the queue adapters share: the names and routing of
// narwhal's queue topology, the delayed-retry buckets, and the errors that are
// specific to queues. The adapters are amqp (RabbitMQ) and memq (in memory);
// queuetest is the contract suite both pass. docs/queue.md tells the story.
package queue

import (
	"errors"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// Names of the exchanges and of the queues beyond ci.QueueJobs and
// ci.QueueEvents. An adapter configured with a prefix puts it in front of
// every one of them (and of the wait queue names); routing keys are never
// prefixed.
const (
	// Exchange is the topic exchange every Publish goes to.
	Exchange = "narwhal"
	// DeadLetterExchange is the topic exchange that queues dead-letter to once
	// a message has used up its deliveries. It keeps the message's routing key.
	DeadLetterExchange = "narwhal.dlx"
	// MetricsExchange is a fanout exchange bound to Exchange with
	// RouteMetrics; whoever wants metrics binds a queue of their own to it.
	MetricsExchange = "narwhal.metrics"
	// QueueJobsDead receives jobs that exhausted their delivery limit.
	QueueJobsDead = "narwhal.jobs.dead"
	// QueueEventsDead receives events that exhausted their delivery limit.
	QueueEventsDead = "narwhal.events.dead"
)

// Binding patterns on Exchange beyond the queues' own (ci.RouteJob,
// ci.BindEvents).
const (
	// RouteMetrics is the pattern binding MetricsExchange to Exchange.
	RouteMetrics = "metrics.#"
)

// DefaultDeliveryLimit is how many times a message may be returned to its
// queue (handler error, consumer crash) before it is dead-lettered: a message
// is delivered at most DefaultDeliveryLimit+1 times.
const DefaultDeliveryLimit = 5

var (
	// ErrUnroutable: no queue is bound for the message's routing key, so the
	// broker would have dropped it. Publish reports it instead.
	ErrUnroutable = errors.New("unroutable message")
	// ErrDelayTooLong: PublishDelayed was asked for a delay beyond the
	// longest wait bucket.
	ErrDelayTooLong = errors.New("delay too long")
)

// Binding routes messages whose key matches Pattern (topic syntax: "*" one
// word, "#" zero or more words) on Exchange into the durable queue Queue,
// which dead-letters to Dead.
type Binding struct {
	Queue   string
	Pattern string
	Dead    string
}

// Bindings lists the durable work queues, their patterns and their
// dead-letter queues. The amqp adapter declares exactly these; memq routes
// with them.
var Bindings = []Binding{
	{Queue: ci.QueueJobs, Pattern: ci.RouteJob, Dead: QueueJobsDead},
	{Queue: ci.QueueEvents, Pattern: ci.BindEvents, Dead: QueueEventsDead},
}

// Queues lists every queue a consumer may name in Consume: the work queues
// and their dead-letter queues.
func Queues() []string {
	var names []string
	for _, b := range Bindings {
		names = append(names, b.Queue, b.Dead)
	}
	return names
}

// Known reports whether name is one of Queues.
func Known(name string) bool {
	for _, q := range Queues() {
		if q == name {
			return true
		}
	}
	return false
}

// Route returns the work queue that a message with routing key goes to, and
// false when no durable queue is bound for it.
func Route(key string) (string, bool) {
	for _, b := range Bindings {
		if TopicMatch(b.Pattern, key) {
			return b.Queue, true
		}
	}
	return "", false
}

// HeaderInt reads an integer message header (x-delivery-count, say) whatever
// integer type the broker sent, or float64 when it went through JSON (an
// Amazon MQ event); anything else is 0.
func HeaderInt(v any) int {
	switch n := v.(type) {
	case float64:
		return int(n)
	case int64:
		return int(n)
	case int32:
		return int(n)
	case int16:
		return int(n)
	case int8:
		return int(n)
	case int:
		return n
	case uint8:
		return int(n)
	case uint16:
		return int(n)
	case uint32:
		return int(n)
	}
	return 0
}
