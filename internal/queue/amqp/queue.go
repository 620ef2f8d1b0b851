// Package amqp is the RabbitMQ ci.Queue (github.com/rabbitmq/amqp091-go): one
// long-lived connection that reconnects with backoff, publisher confirms,
// mandatory publishing, quorum queues with a delivery limit and dead-letter
// queues, and fixed-delay wait queues for delayed retries. docs/queue.md
// describes the topology and the failure modes.
package amqp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// Queue is a ci.Queue on RabbitMQ. Create one per process and keep it (in a
// Lambda function, in a package variable, so that warm invocations reuse the
// connection). It is safe for concurrent use.
type Queue struct {
	cfg  Config
	log  *slog.Logger
	life context.Context // cancelled with ci.ErrClosed by Close
	kill context.CancelCauseFunc

	dialing chan struct{} // a one-slot lock: one caller dials, the others wait
	mu      sync.Mutex
	cur     *session // nil until connected, and after the connection died
}

var _ ci.Queue = (*Queue)(nil)

// New connects to the broker and declares the topology, retrying with backoff
// until ctx ends. ctx bounds only this first connection; later reconnections
// happen inside Publish and Consume, bounded by their contexts. logger may be
// nil.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Queue, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	life, kill := context.WithCancelCause(context.Background())
	q := &Queue{cfg: cfg, log: logger.With("component", "amqp"), life: life, kill: kill,
		dialing: make(chan struct{}, 1)}
	if _, err := q.session(ctx); err != nil {
		q.Close()
		return nil, err
	}
	return q, nil
}

// Close closes the connection. Running Consume calls return ci.ErrClosed once
// their handlers have returned (unacked messages go back to the broker);
// later calls return ci.ErrClosed. Close is idempotent.
func (q *Queue) Close() error {
	q.kill(ci.ErrClosed)
	q.mu.Lock()
	s := q.cur
	q.cur = nil
	q.mu.Unlock()
	if s == nil {
		return nil
	}
	return s.close()
}

// usable returns ErrClosed after Close and the cause of ctx once it is done.
func (q *Queue) usable(ctx context.Context) error {
	if q.life.Err() != nil {
		return ci.ErrClosed
	}
	return context.Cause(ctx)
}

// current returns the live session, or nil.
func (q *Queue) current() *session {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.cur != nil && !q.cur.alive() {
		q.cur = nil
	}
	return q.cur
}

// session returns the live session, dialing a new one (with backoff, until
// ctx ends or the queue is closed) when there is none.
func (q *Queue) session(ctx context.Context) (*session, error) {
	if s := q.current(); s != nil {
		return s, nil
	}
	select {
	case q.dialing <- struct{}{}:
		defer func() { <-q.dialing }()
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for rabbitmq connection: %w", context.Cause(ctx))
	case <-q.life.Done():
		return nil, ci.ErrClosed
	}
	if s := q.current(); s != nil {
		return s, nil // someone else dialed while we waited
	}
	s, err := q.connect(ctx)
	if err != nil {
		return nil, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.life.Err() != nil {
		s.close()
		return nil, ci.ErrClosed
	}
	q.cur = s
	return s, nil
}

// connect dials until it succeeds, ctx ends, the queue is closed or the
// broker refuses for a reason that retrying will not fix.
func (q *Queue) connect(ctx context.Context) (*session, error) {
	wait := newBackoff(q.cfg)
	for attempt := 1; ; attempt++ {
		s, err := dial(q.cfg, q.log)
		if err == nil {
			if attempt > 1 {
				q.log.Info("rabbitmq connected", "attempts", attempt)
			}
			return s, nil
		}
		if permanent(err) {
			return nil, fmt.Errorf("connect to rabbitmq: %w", err)
		}
		d := wait.next()
		q.log.Warn("rabbitmq connect failed; retrying", "attempt", attempt, "in", d, "err", err)
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to rabbitmq: %w (last error: %w)", context.Cause(ctx), err)
		case <-q.life.Done():
			return nil, ci.ErrClosed
		}
	}
}

// permanent reports errors that reconnecting does not fix: bad credentials or
// a topology that disagrees with what the broker has (changed arguments).
func permanent(err error) bool {
	var e *amqp091.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code {
	case amqp091.AccessRefused, amqp091.PreconditionFailed:
		return true
	}
	return false
}
