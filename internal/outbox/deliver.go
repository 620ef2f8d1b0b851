package outbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/retry"
)

// run is the delivering goroutine: it sends the oldest pending message until
// it is taken, then the next, until the outbox's context ends.
func (o *Outbox) run() {
	defer close(o.done)
	var c batchCache
	for {
		it, ok := o.head()
		if !ok {
			return
		}
		if !o.deliver(&c, it) {
			return
		}
	}
}

// head waits for a pending message and returns the oldest, or false when the
// outbox's context ended.
func (o *Outbox) head() (item, bool) {
	for {
		o.mu.Lock()
		if len(o.queue) > 0 {
			it := o.queue[0]
			o.mu.Unlock()
			return it, true
		}
		o.mu.Unlock()
		select {
		case <-o.wake:
		case <-o.ctx.Done():
			return item{}, false
		}
	}
}

// batchCache is the batch file the delivering goroutine reads from.
type batchCache struct {
	file uint64
	msgs []ci.Message
}

// message returns message it, reading its batch file when not cached.
func (c *batchCache) message(dir string, it item) (ci.Message, error) {
	if c.msgs == nil || c.file != it.file {
		msgs, err := readMessages(dir, it.file)
		if err != nil {
			return ci.Message{}, err
		}
		c.file, c.msgs = it.file, msgs
	}
	if i := it.seq - it.file; i < uint64(len(c.msgs)) {
		return c.msgs[i], nil
	}
	return ci.Message{}, fmt.Errorf("%s: message %d missing: %w", fileName(it.file), it.seq, errCorrupt)
}

// deliver sends message it, retrying with backoff, and removes it once sent.
// It returns false when the outbox's context ended first.
func (o *Outbox) deliver(c *batchCache, it item) bool {
	delay := o.opts.InitialBackoff
	for attempt := 1; ; attempt++ {
		err := o.attempt(c, it)
		switch {
		case err == nil:
			o.pop(it)
			return true
		case errors.Is(err, errCorrupt):
			o.quarantine(it, err)
			return true
		case o.ctx.Err() != nil:
			return false
		}
		wait := retry.Jitter(delay)
		o.log.Warn("outbox: delivery failed; retrying", "seq", it.seq, "attempt", attempt, "retry_in", wait, "err", err)
		if !o.sleep(wait) {
			return false
		}
		delay = min(2*delay, o.opts.MaxBackoff)
	}
}

// attempt reads message it from disk and sends it once.
func (o *Outbox) attempt(c *batchCache, it item) error {
	m, err := c.message(o.dir, it)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s vanished: %w", fileName(it.file), errCorrupt)
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

// pop removes a delivered message from the queue, and its batch file from
// disk once all of the batch is delivered.
func (o *Outbox) pop(it item) {
	o.mu.Lock()
	o.remaining[it.file]--
	last := o.remaining[it.file] <= 0
	if last {
		delete(o.remaining, it.file)
	}
	o.mu.Unlock()
	if last {
		if err := removeMessage(o.dir, it.file); err != nil {
			// It stays on disk and goes out again after a restart:
			// duplicates, which consumers tolerate, rather than a loss.
			o.log.Error("outbox: cannot remove a delivered batch", "seq", it.file, "err", err)
		}
		o.spare.Restore()
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.queue = o.queue[1:]
	close(o.changed)
	o.changed = make(chan struct{})
}

// quarantine moves a batch file that can never be sent out of the way; its
// messages leave the queue one by one (the file is gone for the next).
func (o *Outbox) quarantine(it item, cause error) {
	err := moveAside(o.dir, it.file)
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	o.log.Error("outbox: message cannot be delivered; moved aside", "seq", it.seq,
		"dir", corruptDir, "err", cause, "move_err", err)
	o.pop(it)
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
