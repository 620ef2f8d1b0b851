package amqp

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue"
)

// Publish sends m to the narwhal exchange with routing key m.Key, persistent
// and mandatory, and waits for the broker's confirm of this message. It
// returns nil only once the broker has the message in a queue; a nack, a
// connection lost before the confirm, or the end of ctx is an error (the
// message may or may not be queued: retry, consumers dedup). A message no
// queue is bound for fails with queue.ErrUnroutable. If the broker is down,
// Publish reconnects with backoff until ctx ends.
func (q *Queue) Publish(ctx context.Context, m ci.Message) error {
	if err := q.usable(ctx); err != nil {
		return err
	}
	return q.publish(ctx, q.cfg.Prefix+queue.Exchange, m)
}

// PublishDelayed publishes m into the wait queue of the shortest bucket not
// shorter than delay; when the bucket's TTL expires the broker dead-letters
// it back to the narwhal exchange with its routing key. Only keys routed to a
// work queue (queue.Route) are accepted, since the broker would drop an
// unroutable message silently at expiry. A delay <= 0 is a plain Publish.
func (q *Queue) PublishDelayed(ctx context.Context, m ci.Message, delay time.Duration) error {
	if err := q.usable(ctx); err != nil {
		return err
	}
	if delay <= 0 {
		return q.Publish(ctx, m)
	}
	if _, ok := queue.Route(m.Key); !ok {
		return fmt.Errorf("publish delayed %q: %w", m.Key, queue.ErrUnroutable)
	}
	bucket, err := queue.Bucket(delay)
	if err != nil {
		return fmt.Errorf("publish delayed: %w", err)
	}
	return q.publish(ctx, q.cfg.Prefix+queue.WaitQueue(bucket), m)
}

// publish sends m to exchange and waits for its confirm and for a possible
// return. When the session turns out to be closed before anything was sent,
// it tries once more on a fresh one: nothing can be duplicated then.
func (q *Queue) publish(ctx context.Context, exchange string, m ci.Message) error {
	for attempt := 1; ; attempt++ {
		s, err := q.session(ctx)
		if err != nil {
			return fmt.Errorf("publish %s: %w", m.ID, err)
		}
		err = q.publishOn(ctx, s, exchange, m)
		if attempt == 1 && errors.Is(err, errNotSent) {
			continue
		}
		return err
	}
}

// errNotSent: the channel was closed before the message went out.
var errNotSent = errors.New("channel closed before sending")

// publishOn publishes m on session s.
func (q *Queue) publishOn(ctx context.Context, s *session, exchange string, m ci.Message) error {
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-ctx.Done():
		return fmt.Errorf("publish %s: %w", m.ID, context.Cause(ctx))
	}
	id := strconv.FormatUint(s.seq.Add(1), 10)
	dc, err := s.pub.PublishWithDeferredConfirmWithContext(ctx, exchange, m.Key, true, false, publishing(m, id))
	if errors.Is(err, amqp091.ErrClosed) {
		return fmt.Errorf("publish %s: %w: %w", m.ID, errNotSent, err)
	}
	if err != nil {
		return fmt.Errorf("publish %s: %w", m.ID, err)
	}
	select {
	case <-dc.Done():
	case <-ctx.Done():
		return fmt.Errorf("publish %s: waiting for confirm: %w", m.ID, context.Cause(ctx))
	}
	if !dc.Acked() {
		return fmt.Errorf("publish %s: not confirmed (broker nack or connection lost)", m.ID)
	}
	if r, returned := s.takeReturn(id); returned {
		return fmt.Errorf("publish %s with key %q: %s: %w", m.ID, m.Key, r.ReplyText, queue.ErrUnroutable)
	}
	return nil
}

// publishing turns m into a persistent AMQP message tagged with publishID.
func publishing(m ci.Message, publishID string) amqp091.Publishing {
	headers := amqp091.Table{}
	for k, v := range m.Headers {
		headers[k] = v
	}
	headers[hdrPublishID] = publishID
	return amqp091.Publishing{
		Headers:      headers,
		ContentType:  "application/json",
		DeliveryMode: amqp091.Persistent,
		MessageId:    m.ID,
		Timestamp:    time.Now().UTC(),
		Body:         m.Body,
	}
}
