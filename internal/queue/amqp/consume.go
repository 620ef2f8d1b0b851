package amqp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue"
)

// errDeliveriesClosed: the broker or the connection ended the subscription.
var errDeliveriesClosed = errors.New("delivery channel closed")

// consumerSeq numbers consumer tags within the process.
var consumerSeq atomic.Uint64

// Consume subscribes to name (one of queue.Queues) with manual acks and a QoS
// prefetch of prefetch, and runs up to prefetch handlers at once. A delivery
// is acked after h returns nil and nacked with requeue after an error (the
// quorum queue counts it toward the delivery limit). When the connection
// drops, Consume reconnects with backoff and subscribes again, until ctx ends
// (it returns context.Cause(ctx)) or the queue is closed (ci.ErrClosed). On
// the way out it waits for running handlers; messages not acked go back to
// the queue.
func (q *Queue) Consume(ctx context.Context, name string, prefetch int, h ci.Handler) error {
	if err := q.usable(ctx); err != nil {
		return err
	}
	if !queue.Known(name) {
		return fmt.Errorf("consume %q: %w", name, ci.ErrNotFound)
	}
	hctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(q.life, func() { cancel(ci.ErrClosed) })
	defer stop()

	wait := newBackoff(q.cfg)
	for {
		started := time.Now()
		s, err := q.session(hctx)
		if err == nil {
			err = q.consumeOn(hctx, s, name, max(prefetch, 1), h)
		}
		if q.life.Err() != nil {
			return ci.ErrClosed
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if time.Since(started) > q.cfg.BackoffMax {
			wait.reset() // it ran for a while: a fresh failure, not a loop
		}
		d := wait.next()
		q.log.Warn("consumer interrupted; subscribing again", "queue", name, "in", d, "err", err)
		select {
		case <-time.After(d):
		case <-hctx.Done():
		}
	}
}

// consumeOn runs one subscription on its own channel of s until ctx ends or
// the channel closes. Closing the channel returns unacked messages.
func (q *Queue) consumeOn(ctx context.Context, s *session, name string, prefetch int, h ci.Handler) error {
	ch, err := s.conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	defer ch.Close()
	if err := ch.Qos(prefetch, 0, false); err != nil {
		return fmt.Errorf("set prefetch: %w", err)
	}
	tag := fmt.Sprintf("narwhal-%d-%d", os.Getpid(), consumerSeq.Add(1))
	deliveries, err := ch.Consume(q.cfg.Prefix+name, tag, false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("subscribe to %s: %w", name, err)
	}
	// Handlers get their own context, cancelled only after the subscription
	// is: what they nack then goes to another consumer, not back to this one.
	hctx, hcancel := context.WithCancelCause(context.WithoutCancel(ctx))
	workers := queue.NewWorkers(prefetch, func(d amqp091.Delivery) { q.handle(hctx, name, d, h) })
	var stopped error
	defer func() {
		ch.Cancel(tag, false)
		hcancel(stopped)
		workers.Close() // before ch.Close returns what was not acked
	}()
	stopped = dispatch(ctx, deliveries, workers)
	return stopped
}

// dispatch hands deliveries to workers, each once a worker is free for it,
// until ctx ends or deliveries closes.
func dispatch(ctx context.Context, deliveries <-chan amqp091.Delivery, workers *queue.Workers[amqp091.Delivery]) error {
	for workers.Reserve(ctx) {
		select {
		case d, ok := <-deliveries:
			if !ok {
				workers.Release()
				return errDeliveriesClosed
			}
			workers.Run(d)
		case <-ctx.Done():
			workers.Release()
			return context.Cause(ctx)
		}
	}
	return context.Cause(ctx)
}

// handle runs h on d, then acks or nacks d. A failed ack or nack needs no
// retry: the broker redelivers whatever it did not see acked.
func (q *Queue) handle(ctx context.Context, name string, d amqp091.Delivery, h ci.Handler) {
	del := delivery(d)
	if err := h(ctx, del); err != nil {
		q.log.Debug("handler failed; returning message", "queue", name, "id", del.ID, "attempt", del.Attempt, "err", err)
		if err := d.Nack(false, true); err != nil {
			q.log.Warn("nack failed; the broker will redeliver", "queue", name, "id", del.ID, "err", err)
		}
		return
	}
	if err := d.Ack(false); err != nil {
		q.log.Warn("ack failed; the broker will redeliver", "queue", name, "id", del.ID, "err", err)
	}
}

// delivery translates an AMQP delivery. Attempt comes from the quorum queue's
// x-delivery-count (absent on a first delivery); headers starting with "x-"
// belong to the broker and to this package and are left out.
func delivery(d amqp091.Delivery) ci.Delivery {
	var headers map[string]string
	for k, v := range d.Headers {
		s, ok := v.(string)
		if !ok || strings.HasPrefix(k, "x-") {
			continue
		}
		if headers == nil {
			headers = map[string]string{}
		}
		headers[k] = s
	}
	return ci.Delivery{
		Message:     ci.Message{Key: d.RoutingKey, ID: d.MessageId, Body: d.Body, Headers: headers},
		Redelivered: d.Redelivered,
		Attempt:     queue.HeaderInt(d.Headers["x-delivery-count"]) + 1,
	}
}
