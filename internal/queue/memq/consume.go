package memq

import (
	"context"
	"fmt"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue"
)

// entry is a message in a queue with the number of times it was returned.
type entry struct {
	msg     ci.Message
	returns int
}

// fifo is one queue. Returned messages go to the front, as in a RabbitMQ
// quorum queue. The zero value is not usable: use newFIFO.
type fifo struct {
	items   []*entry
	dead    string        // dead-letter queue, "" for none (no delivery limit)
	changed chan struct{} // closed and replaced on every push
}

func newFIFO(dead string) *fifo { return &fifo{dead: dead, changed: make(chan struct{})} }

func (f *fifo) push(e *entry)      { f.items = append(f.items, e); f.wake() }
func (f *fifo) pushFront(e *entry) { f.items = append([]*entry{e}, f.items...); f.wake() }
func (f *fifo) wake()              { close(f.changed); f.changed = make(chan struct{}) }

// Consume delivers the messages of queue (a name from queue.Queues) to h,
// running up to prefetch handlers at once, until ctx ends or the queue is
// closed. It then waits for running handlers, acks those that returned nil,
// returns the others to the queue, and returns context.Cause(ctx) or
// ci.ErrClosed.
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

	workers := queue.NewWorkers(prefetch, func(e *entry) {
		d := ci.Delivery{Message: clone(e.msg), Redelivered: e.returns > 0, Attempt: e.returns + 1}
		q.settle(name, e, h(hctx, d))
	})
	for workers.Reserve(hctx) {
		e := q.take(hctx, name)
		if e == nil {
			workers.Release()
			break
		}
		workers.Run(e)
	}
	workers.Close()
	if q.life.Err() != nil {
		return ci.ErrClosed
	}
	return context.Cause(ctx)
}

// take waits for a message and returns it, or nil once ctx ends.
func (q *Queue) take(ctx context.Context, name string) *entry {
	for {
		q.mu.Lock()
		f := q.queues[name]
		if len(f.items) > 0 && ctx.Err() == nil {
			e := f.items[0]
			f.items = f.items[1:]
			q.mu.Unlock()
			return e
		}
		changed := f.changed
		q.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil
		}
	}
}

// settle acks e when the handler succeeded; otherwise it returns e to the
// front of its queue, or dead-letters it once it exceeded the delivery limit.
func (q *Queue) settle(name string, e *entry, err error) {
	if err == nil {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	f := q.queues[name]
	e.returns++
	if f.dead != "" && e.returns > q.limit {
		q.queues[f.dead].push(&entry{msg: e.msg})
		return
	}
	f.pushFront(e)
}
