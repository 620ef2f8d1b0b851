package queue

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// Lazy is a ci.Queue that connects on first use and keeps the connection for
// every later call: a Lambda function keeps it in its handler across warm
// invocations, a cold start whose broker is down still answers the webhook
// (the job stays durable and unpublished), and runnerd starts while the
// broker is down (its reports wait in the outbox). A failed connect is tried
// again on the next call. It is safe for concurrent use.
type Lazy struct {
	dial func(ctx context.Context) (ci.Queue, error)

	mu     sync.Mutex // held while dialing: one caller dials, the others wait
	q      ci.Queue
	closed bool
}

var _ ci.Queue = (*Lazy)(nil)

// NewLazy returns a queue that calls dial on first use (amqp.Dialer makes one). dial should be
// bounded by its context (a publish waits for it).
func NewLazy(dial func(ctx context.Context) (ci.Queue, error)) *Lazy {
	return &Lazy{dial: dial}
}

func (l *Lazy) get(ctx context.Context) (ci.Queue, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return nil, ci.ErrClosed
	case l.q != nil:
		return l.q, nil
	}
	q, err := l.dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect queue: %w", err)
	}
	l.q = q
	return q, nil
}

// Publish connects if needed and publishes m.
func (l *Lazy) Publish(ctx context.Context, m ci.Message) error {
	q, err := l.get(ctx)
	if err != nil {
		return err
	}
	return q.Publish(ctx, m)
}

// PublishDelayed connects if needed and publishes m after delay.
func (l *Lazy) PublishDelayed(ctx context.Context, m ci.Message, delay time.Duration) error {
	q, err := l.get(ctx)
	if err != nil {
		return err
	}
	return q.PublishDelayed(ctx, m, delay)
}

// Consume connects if needed and consumes queue.
func (l *Lazy) Consume(ctx context.Context, queue string, prefetch int, h ci.Handler) error {
	q, err := l.get(ctx)
	if err != nil {
		return err
	}
	return q.Consume(ctx, queue, prefetch, h)
}

// Close closes the connection, if there is one. Later calls return ci.ErrClosed.
func (l *Lazy) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.q == nil {
		return nil
	}
	return l.q.Close()
}
