package outbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/retry"
)

// run is the delivering goroutine: it sends the oldest pending message until
// it is taken, then the next, until the outbox's context ends.
func (o *Outbox) run() {
	defer close(o.done)
	var r segReader
	defer r.close()
	for {
		it, ok := o.head()
		if !ok {
			return
		}
		if !o.deliver(&r, it) {
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

// segReader reads frames from the segment the delivering goroutine is in.
type segReader struct {
	seg   uint64
	f     *os.File // nil: none open
	frame []byte   // the last frame read
}

// message reads and decodes message it, opening its segment when it is not
// the one open. A frame that does not decode, or a segment gone, is
// errCorrupt.
func (r *segReader) message(dir string, it item) (ci.Message, error) {
	if r.f == nil || r.seg != it.seg {
		r.close()
		f, err := os.Open(filepath.Join(dir, segmentName(it.seg)))
		if errors.Is(err, os.ErrNotExist) {
			return ci.Message{}, fmt.Errorf("%s vanished: %w", segmentName(it.seg), errCorrupt)
		}
		if err != nil {
			return ci.Message{}, err
		}
		r.seg, r.f = it.seg, f
	}
	r.frame = slices.Grow(r.frame[:0], it.n)[:it.n]
	if _, err := r.f.ReadAt(r.frame, it.off); err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w: %s cut short", errCorrupt, segmentName(it.seg))
		}
		return ci.Message{}, err
	}
	return decodeFrame(r.frame)
}

func (r *segReader) close() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}

// deliver sends message it, retrying with backoff, and removes it once sent.
// It returns false when the outbox's context ended first.
func (o *Outbox) deliver(r *segReader, it item) bool {
	delay := o.opts.InitialBackoff
	for attempt := 1; ; attempt++ {
		err := o.attempt(r, it)
		switch {
		case err == nil:
			o.pop(it)
			return true
		case errors.Is(err, errCorrupt):
			o.quarantine(it, r.frame, err)
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
func (o *Outbox) attempt(r *segReader, it item) error {
	r.frame = r.frame[:0]
	m, err := r.message(o.dir, it)
	if err != nil {
		return fmt.Errorf("read message %d: %w", it.seq, err)
	}
	ctx, cancel := context.WithTimeout(o.ctx, o.opts.SendTimeout)
	defer cancel()
	if err := o.send(ctx, m); err != nil {
		return fmt.Errorf("send message %s (%s): %w", m.ID, m.Key, err)
	}
	return nil
}

// pop removes a delivered message from the queue, records it in acked
// (recordAcked), and removes its segment once all of it is delivered and no
// batch goes there any more. Once the queue is empty, or a segment removed,
// the reserve is taken back if it was released and there is room.
func (o *Outbox) pop(it item) {
	o.delivered = it.seq
	caughtUp := o.Pending() == 1
	if caughtUp || o.delivered-o.ackedSeq >= ackEvery {
		o.recordAcked()
	}
	o.mu.Lock()
	o.remaining[it.seg]--
	last := o.remaining[it.seg] <= 0 && it.seg != o.activeSeq
	if last {
		delete(o.remaining, it.seg)
	}
	o.queue = o.queue[1:]
	close(o.changed)
	o.changed = make(chan struct{})
	o.mu.Unlock()
	switch {
	case last:
		o.removeSegment(it.seg)
	case caughtUp:
		o.spare.Restore()
	}
}

// ackEvery is how many deliveries may go unrecorded in acked while more
// messages wait: after a crash at most that many are sent again.
const ackEvery = 64

// recordAcked writes the last delivered seq to acked, unless it is there.
// It is called after the delivery of the last message pending and of every
// ackEvery-th, and at Close. The file is not
// synced: losing it to a crash only sends messages again.
func (o *Outbox) recordAcked() {
	if o.delivered == o.ackedSeq {
		return
	}
	if _, err := o.acked.WriteAt(formatAcked(o.delivered), 0); err != nil {
		// The messages go out again after a restart: duplicates, which
		// consumers tolerate, rather than a loss.
		o.log.Warn("outbox: cannot record deliveries", "seq", o.delivered, "err", err)
		return
	}
	o.ackedSeq = o.delivered
}

// quarantine keeps a message that can never be sent out of the way, in
// dir/corrupt, and takes it off the queue.
func (o *Outbox) quarantine(it item, frame []byte, cause error) {
	var err error
	if len(frame) > 0 {
		err = keepAside(o.dir, it.seq, frame)
	}
	o.log.Error("outbox: message cannot be delivered; kept aside", "seq", it.seq,
		"dir", corruptDir, "err", cause, "keep_err", err)
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
