package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/narwhal-ci/narwhal/internal/mqevent"
	"github.com/narwhal-ci/narwhal/internal/queue"

	"github.com/aws/aws-lambda-go/events"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// jobWorkers bounds how many job messages of a batch are dispatched at
// once. Runner reports are applied one at a time, in order.
const jobWorkers = 8

// messageHandler handles one delivery (dispatch.Dispatcher.HandleJob or
// HandleEvent).
type messageHandler func(ctx context.Context, dl ci.Delivery) error

// batch handles every message of an MQ event and fails when any failed:
// there is no partial batch response for Amazon MQ, so the whole batch comes
// back (redelivered: true), and the messages that went through are no-ops
// the second time.
func (h *handler) batch(ctx context.Context, ev events.RabbitMQEvent) error {
	start := time.Now()
	var errs []error
	total := 0
	for key, msgs := range ev.MessagesByQueue {
		total += len(msgs)
		queue, _, _ := strings.Cut(key, "::")
		errs = append(errs, h.queue(ctx, queue, msgs)...)
	}
	err := errors.Join(errs...)
	if err != nil {
		h.log.Warn("batch failed; the event source will redeliver it", "messages", total, "took", time.Since(start), "err", err)
		return fmt.Errorf("batch of %d messages: %w", total, err)
	}
	h.log.Info("batch done", "messages", total, "took", time.Since(start))
	return nil
}

// queue handles the messages of one queue. Runner reports seen for the
// first time are applied in one writeback pass, so that each job they
// change is written once; a batch that comes back (redelivered) is applied
// message by message, as is any batch without a pass.
func (h *handler) queue(ctx context.Context, queue string, msgs []events.RabbitMQMessage) []error {
	handle, workers, err := h.route(queue)
	if err != nil {
		return []error{err}
	}
	if h.pass == nil || queue != h.prefix+ci.QueueEvents || redelivered(msgs) {
		return each(ctx, msgs, handle, workers)
	}
	h.pass.Begin()
	errs := each(ctx, msgs, handle, workers)
	if errors.Join(errs...) != nil {
		h.pass.Discard()
		return errs
	}
	n, err := h.pass.Flush(ctx)
	h.log.Debug("reports written back", "messages", len(msgs), "jobs", n)
	return []error{err}
}

func redelivered(msgs []events.RabbitMQMessage) bool {
	for _, m := range msgs {
		if m.Redelivered {
			return true
		}
	}
	return false
}

// route picks the handler of a queue and how many of its messages may run
// at once.
func (h *handler) route(queue string) (messageHandler, int, error) {
	switch queue {
	case h.prefix + ci.QueueJobs:
		return h.core.HandleJob, jobWorkers, nil
	case h.prefix + ci.QueueEvents:
		return h.core.HandleEvent, 1, nil
	}
	return nil, 0, fmt.Errorf("messages of queue %q, which the dispatcher does not consume", queue)
}

// each runs handle on every message, at most workers at once and in order
// when workers is 1, and returns the errors (nil for a success).
func each(ctx context.Context, msgs []events.RabbitMQMessage, handle messageHandler, workers int) []error {
	errs := make([]error, len(msgs))
	w := queue.NewWorkers(workers, func(i int) { errs[i] = one(ctx, msgs[i], handle) })
	for i := range msgs {
		w.Reserve(context.WithoutCancel(ctx)) // each message is answered, even when ctx ended
		w.Run(i)
	}
	w.Close()
	return errs
}

func one(ctx context.Context, m events.RabbitMQMessage, handle messageHandler) error {
	dl, err := mqevent.Delivery(m)
	if err != nil {
		return err
	}
	if err := handle(ctx, dl); err != nil {
		return fmt.Errorf("message %s (delivery %d): %w", dl.ID, dl.Attempt, err)
	}
	return nil
}
