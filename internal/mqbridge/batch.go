package mqbridge

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/narwhal-ci/narwhal/internal/mqevent"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// errDeliveriesClosed: the broker closed the channel or the connection.
var errDeliveriesClosed = errors.New("deliveries closed")

// collector cuts the deliveries of one consumer into batches.
type collector struct {
	in       <-chan amqp091.Delivery
	size     int           // most messages per batch
	window   time.Duration // gathering time after a batch's first message
	maxBytes int           // most base64 data bytes per batch
	held     *amqp091.Delivery
}

// next waits for a first delivery, then gathers more until the batch is
// full, the window has passed since that first delivery, or the next one
// would exceed maxBytes (it is held for the following batch).
func (c *collector) next(ctx context.Context) ([]amqp091.Delivery, error) {
	first, err := c.first(ctx)
	if err != nil {
		return nil, err
	}
	batch, bytes := []amqp091.Delivery{first}, encodedLen(first)
	window := time.NewTimer(c.window)
	defer window.Stop()
	for len(batch) < c.size {
		select {
		case d, ok := <-c.in:
			if !ok {
				return nil, errDeliveriesClosed
			}
			if bytes+encodedLen(d) > c.maxBytes {
				c.held = &d
				return batch, nil
			}
			batch, bytes = append(batch, d), bytes+encodedLen(d)
		case <-window.C:
			return batch, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return batch, nil
}

// first returns the held delivery, or waits for the next one.
func (c *collector) first(ctx context.Context) (amqp091.Delivery, error) {
	if d := c.held; d != nil {
		c.held = nil
		return *d, nil
	}
	select {
	case d, ok := <-c.in:
		if !ok {
			return amqp091.Delivery{}, errDeliveriesClosed
		}
		return d, nil
	case <-ctx.Done():
		return amqp091.Delivery{}, ctx.Err()
	}
}

func encodedLen(d amqp091.Delivery) int { return base64.StdEncoding.EncodedLen(len(d.Body)) }

// deliver invokes the function with batch, then acks the whole batch when it
// succeeded or returns the whole batch to the queue when it failed. The
// batch is every unacknowledged delivery of the channel up to its last one,
// so one multiple ack or nack settles it. When ctx ended during the call the
// batch is left alone: closing the channel returns it.
func (b *Bridge) deliver(ctx context.Context, batch []amqp091.Delivery) error {
	ev := mqevent.Event(b.cfg.EventSourceARN, b.cfg.Queue, b.vhost, batch)
	ictx, cancel := context.WithTimeout(ctx, b.cfg.InvokeTimeout)
	start := time.Now()
	err := b.cfg.Invoker.Invoke(ictx, ev)
	cancel()
	last := batch[len(batch)-1]
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		b.log.Warn("mqbridge: invocation failed; returning the batch to the queue",
			"messages", len(batch), "took", time.Since(start), "err", err)
		if nerr := last.Nack(true, true); nerr != nil {
			return fmt.Errorf("return batch after %w: %w", err, nerr)
		}
		return fmt.Errorf("invoke: %w", err)
	}
	b.log.Debug("mqbridge: batch delivered", "messages", len(batch), "took", time.Since(start))
	if err := last.Ack(true); err != nil {
		return fmt.Errorf("ack batch: %w", err)
	}
	return nil
}
