// Package memq is an in-memory ci.Queue for `narwhal dev` and tests: the same
// topology (internal/queue), routing, ack/return, delivery limit,
// dead-lettering and delayed-retry buckets as the RabbitMQ adapter, without a
// broker and without durability (messages live as long as the process).
package memq

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue"
)

// Config configures a Queue.
type Config struct {
	// DeliveryLimit is how many times a message may be returned (handler
	// error, consumer stopped) before it is dead-lettered; it is delivered at
	// most DeliveryLimit+1 times. Zero means queue.DefaultDeliveryLimit.
	DeliveryLimit int
}

// Queue is an in-memory ci.Queue. It is safe for concurrent use; Close stops
// its timers, ends running Consume calls and leaves no goroutine behind once
// they have returned.
type Queue struct {
	limit int
	life  context.Context // cancelled with ci.ErrClosed by Close
	kill  context.CancelCauseFunc

	mu     sync.Mutex
	queues map[string]*fifo
	timers map[*delayed]struct{} // delayed messages not yet due
	timerW sync.WaitGroup        // one count per timer until it is stopped or has run
}

// delayed is a delayed message's timer; its address is its identity.
type delayed struct{ timer *time.Timer }

var _ ci.Queue = (*Queue)(nil)

// New returns an empty queue with every queue of the topology declared.
func New(cfg Config) *Queue {
	if cfg.DeliveryLimit <= 0 {
		cfg.DeliveryLimit = queue.DefaultDeliveryLimit
	}
	life, kill := context.WithCancelCause(context.Background())
	q := &Queue{limit: cfg.DeliveryLimit, life: life, kill: kill,
		queues: map[string]*fifo{}, timers: map[*delayed]struct{}{}}
	for _, b := range queue.Bindings {
		q.queues[b.Queue] = newFIFO(b.Dead)
		q.queues[b.Dead] = newFIFO("")
	}
	return q
}

// Publish routes m by its key into its queue. It returns queue.ErrUnroutable
// when no queue is bound for the key.
func (q *Queue) Publish(ctx context.Context, m ci.Message) error {
	if err := q.usable(ctx); err != nil {
		return err
	}
	name, ok := queue.Route(m.Key)
	if !ok {
		return fmt.Errorf("publish %q: %w", m.Key, queue.ErrUnroutable)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.queues[name].push(&entry{msg: clone(m)})
	return nil
}

// PublishDelayed publishes m after delay rounded up to the next wait bucket,
// as the RabbitMQ wait queues do.
func (q *Queue) PublishDelayed(ctx context.Context, m ci.Message, delay time.Duration) error {
	if delay <= 0 {
		return q.Publish(ctx, m)
	}
	if err := q.usable(ctx); err != nil {
		return err
	}
	if _, ok := queue.Route(m.Key); !ok {
		return fmt.Errorf("publish delayed %q: %w", m.Key, queue.ErrUnroutable)
	}
	bucket, err := queue.Bucket(delay)
	if err != nil {
		return fmt.Errorf("publish delayed: %w", err)
	}
	m = clone(m)
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.life.Err() != nil {
		return fmt.Errorf("publish delayed: %w", ci.ErrClosed)
	}
	d := &delayed{}
	q.timerW.Add(1)
	d.timer = time.AfterFunc(bucket, func() { q.due(d, m) })
	q.timers[d] = struct{}{}
	return nil
}

// due publishes a delayed message whose time has come.
func (q *Queue) due(d *delayed, m ci.Message) {
	defer q.timerW.Done()
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.timers, d)
	if q.life.Err() != nil {
		return
	}
	name, _ := queue.Route(m.Key)
	q.queues[name].push(&entry{msg: m})
}

// Volatile reports that the queue's messages live in this process alone
// (queue.Volatile).
func (q *Queue) Volatile() bool { return true }

// Close ends running Consume calls (they return ci.ErrClosed after their
// handlers return) and drops delayed messages not yet due. It is idempotent.
func (q *Queue) Close() error {
	q.mu.Lock()
	q.kill(ci.ErrClosed)
	for d := range q.timers {
		if d.timer.Stop() {
			delete(q.timers, d)
			q.timerW.Done()
		}
	}
	q.mu.Unlock()
	q.timerW.Wait()
	return nil
}

// usable returns ErrClosed after Close and ctx's error once it is done.
func (q *Queue) usable(ctx context.Context) error {
	if q.life.Err() != nil {
		return ci.ErrClosed
	}
	return context.Cause(ctx)
}

// clone copies m so that neither publisher nor consumer shares its memory.
func clone(m ci.Message) ci.Message {
	m.Body = slices.Clone(m.Body)
	m.Headers = maps.Clone(m.Headers)
	return m
}
