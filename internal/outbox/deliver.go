package outbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/narwhal-ci/narwhal/internal/retry"
)

// run is the delivering goroutine: it sends the oldest pending message until
// it is taken, then the next, until the outbox's context ends.
func (o *Outbox) run() {
	defer close(o.done)
	for {
		seq, ok := o.head()
		if !ok {
			return
		}
		if !o.deliver(seq) {
			return
		}
	}
}

// head waits for a pending message and returns the oldest, or false when the
// outbox's context ended.
func (o *Outbox) head() (uint64, bool) {
	for {
		o.mu.Lock()
		if len(o.queue) > 0 {
			seq := o.queue[0]
			o.mu.Unlock()
			return seq, true
		}
		o.mu.Unlock()
		select {
		case <-o.wake:
		case <-o.ctx.Done():
			return 0, false
		}
	}
}

// deliver sends message seq, retrying with backoff, and removes it once sent.
// It returns false when the outbox's context ended first.
func (o *Outbox) deliver(seq uint64) bool {
	delay := o.opts.InitialBackoff
	for attempt := 1; ; attempt++ {
		err := o.attempt(seq)
		switch {
		case err == nil:
			o.pop(seq)
			return true
		case errors.Is(err, errCorrupt):
			o.quarantine(seq, err)
			return true
		case o.ctx.Err() != nil:
			return false
		}
		wait := retry.Jitter(delay)
		o.log.Warn("outbox: delivery failed; retrying", "seq", seq, "attempt", attempt, "retry_in", wait, "err", err)
		if !o.sleep(wait) {
			return false
		}
		delay = min(2*delay, o.opts.MaxBackoff)
	}
}

// attempt reads message seq from disk and sends it once.
func (o *Outbox) attempt(seq uint64) error {
	m, err := readMessage(o.dir, seq)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s vanished: %w", fileName(seq), errCorrupt)
	}
	if err != nil {
		return fmt.Errorf("read message: %w", err)
	}
	ctx, cancel := context.WithTimeout(o.ctx, o.opts.SendTimeout)
	defer cancel()
	if err := o.send(ctx, m); err != nil {
		return fmt.Errorf("send message %s (%s): %w", m.ID, m.Key, err)
	}
	return nil
}

// pop removes a delivered message from disk and from the queue.
func (o *Outbox) pop(seq uint64) {
	if err := removeMessage(o.dir, seq); err != nil {
		// It stays on disk and goes out again after a restart: a duplicate,
		// which consumers tolerate, rather than a loss.
		o.log.Error("outbox: cannot remove a delivered message", "seq", seq, "err", err)
	}
	o.spare.Restore()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.queue = o.queue[1:]
	close(o.changed)
	o.changed = make(chan struct{})
}

// quarantine moves a message that can never be sent out of the queue.
func (o *Outbox) quarantine(seq uint64, cause error) {
	err := moveAside(o.dir, seq)
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	o.log.Error("outbox: message cannot be delivered; moved aside", "seq", seq,
		"dir", corruptDir, "err", cause, "move_err", err)
	o.pop(seq)
}

// sleep waits for d, or reports false when the outbox's context ends first.
func (o *Outbox) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-o.ctx.Done():
		return false
	}
}
