package intake

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// markFlushTimeout bounds one coalesced MarkPublished: it runs for several
// Accepts, so no one caller's context may cut it short.
const markFlushTimeout = 5 * time.Second

// coalescer turns the Published marks of concurrent Accepts into few
// MarkPublished calls: while one call is in flight, the marks that arrive
// wait and go together into the next one. A store with a single writer
// (SQLite) then sees at most one mark write queued at a time, beside the
// creates, instead of a write per webhook, each of which may cost a
// transaction of its own. A lone Accept is not delayed: with no call in
// flight its mark goes at once. The zero value is ready to use.
type coalescer struct {
	mu       sync.Mutex
	flushing bool
	pending  []*waitingMark
}

// waitingMark is one Accept's mark: done receives the outcome of the call
// that carried it, or lead when it is its turn to make the next call.
type waitingMark struct {
	msg  ci.JobMessage
	done chan markResult
}

type markResult struct {
	err  error
	lead bool
}

// mark writes msg with m, together with the marks of concurrent callers,
// and returns when the call carrying it has returned. Every caller waits for
// its own outcome: a flush is bounded by markFlushTimeout, not by ctx.
func (c *coalescer) mark(ctx context.Context, m PublishMarker, msg ci.JobMessage) error {
	w := &waitingMark{msg: msg, done: make(chan markResult, 1)}
	c.mu.Lock()
	c.pending = append(c.pending, w)
	lead := !c.flushing
	c.flushing = true
	c.mu.Unlock()
	for !lead {
		r := <-w.done
		if !r.lead {
			return r.err
		}
		lead = true
	}
	return c.flush(ctx, m, w)
}

// flush makes one call with every pending mark (own among them), answers
// their callers, and hands the next call to the first mark that arrived
// meanwhile, if any.
func (c *coalescer) flush(ctx context.Context, m PublishMarker, own *waitingMark) error {
	c.mu.Lock()
	batch := c.pending
	c.pending = nil
	c.mu.Unlock()
	msgs := make([]ci.JobMessage, len(batch))
	for i, w := range batch {
		msgs[i] = w.msg
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markFlushTimeout)
	err := m.MarkPublished(fctx, msgs)
	cancel()
	var ownErr error
	for _, w := range batch {
		if w == own {
			ownErr = err
			continue
		}
		w.done <- markResult{err: err}
	}
	c.handOver()
	return ownErr
}

// handOver gives the next call to the oldest pending mark, or ends the
// flushing when there is none.
func (c *coalescer) handOver() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) == 0 {
		c.flushing = false
		return
	}
	c.pending[0].done <- markResult{lead: true}
}

// later is the background form of the coalescer, for Intake.MarkLater: a
// mark is queued and its caller returns at once; one flusher goroutine,
// started when none runs, writes what is queued, one MarkPublished per
// round, until nothing is left. A failed round is logged: its jobs stay
// unpublished in the store, and Sweep publishes them again.
type later struct {
	mu       sync.Mutex
	pending  []ci.JobMessage
	flushing bool
	idle     *sync.Cond // signalled when the flusher stops
}

// add queues msg and starts the flusher when none runs.
func (l *later) add(m PublishMarker, msg ci.JobMessage, log *slog.Logger) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending = append(l.pending, msg)
	if !l.flushing {
		l.flushing = true
		go l.flush(m, log)
	}
}

// flush writes rounds of queued marks until none are left.
func (l *later) flush(m PublishMarker, log *slog.Logger) {
	for {
		l.mu.Lock()
		batch := l.pending
		l.pending = nil
		if len(batch) == 0 {
			l.flushing = false
			l.cond().Broadcast()
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), markFlushTimeout)
		if err := m.MarkPublished(ctx, batch); err != nil {
			log.Warn("published marks not written; Sweep publishes these jobs again",
				"jobs", len(batch), "first", batch[0].JobID, "err", err)
		}
		cancel()
	}
}

// wait returns once every mark queued before it is written (or failed).
func (l *later) wait() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.flushing {
		l.cond().Wait()
	}
}

// cond is idle, made on first use; l.mu is held.
func (l *later) cond() *sync.Cond {
	if l.idle == nil {
		l.idle = sync.NewCond(&l.mu)
	}
	return l.idle
}
