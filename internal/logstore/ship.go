package logstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/narwhal-ci/narwhal/internal/retry"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// run is the Shipper's background loop: it puts sealed chunks in order and
// seals the open chunk when it is old enough or the Shipper is closing.
func (s *Shipper) run() {
	defer close(s.done)
	for {
		seq, chunk, last, wait, ok := s.nextChunk()
		switch {
		case !ok:
			return
		case chunk == nil:
			s.sleep(wait)
		default:
			put := s.store.PutChunk
			if last {
				put = s.store.PutLast
			}
			err := s.retry(fmt.Sprintf("put chunk %d", seq), func(ctx context.Context) error {
				return put(ctx, s.jobID, seq, chunk)
			})
			s.shipped(err, last)
		}
	}
}

// nextChunk returns the next chunk to put and whether it is the last of the
// log (the Shipper is closing and nothing follows it), or how long to wait
// before looking again (0: until woken), or ok=false when there is nothing
// more to do.
func (s *Shipper) nextChunk() (seq int, chunk []byte, last bool, wait time.Duration, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, nil, false, 0, false
	}
	if len(s.pending) == 0 && len(s.buf) > 0 {
		wait = time.Until(s.first.Add(s.opts.FlushEvery))
		if wait <= 0 || s.closing {
			s.sealLocked()
		}
	}
	if len(s.pending) > 0 {
		last = s.closing && len(s.pending) == 1 && len(s.buf) == 0
		return s.next, s.pending[0], last, 0, true
	}
	return 0, nil, false, wait, !s.closing
}

// sleep waits until woken, until wait has passed (when > 0) or until the
// Shipper is aborted.
func (s *Shipper) sleep(wait time.Duration) {
	var timeout <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-s.wake:
	case <-timeout:
	case <-s.ctx.Done():
		s.shipped(fmt.Errorf("ship log: %w", context.Cause(s.ctx)), false)
	}
}

// shipped records the outcome of putting pending[0], the log's last chunk
// when last: on success the chunk is dropped and a blocked Line may go on
// (or, after the last one, the log is finished); on error the Shipper stops.
func (s *Shipper) shipped(err error, last bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.space.Broadcast()
	if err != nil {
		if s.err == nil {
			s.err = err
			s.log.Error("log shipping stopped; the rest of the log is dropped", "err", err)
		}
		s.pending, s.buf = nil, nil
		return
	}
	s.pending[0] = nil
	s.pending = s.pending[1:]
	s.next++
	s.finished = last
}

// retry calls op until it succeeds, fails permanently, keeps failing for
// GiveUpAfter, or the Shipper is aborted; each attempt is bounded by
// PutTimeout, and attempts are spaced by exponential backoff with jitter.
func (s *Shipper) retry(what string, op func(context.Context) error) error {
	delay := s.opts.BackoffMin
	var since time.Time
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(s.ctx, s.opts.PutTimeout)
		err := op(ctx)
		cancel()
		switch {
		case err == nil:
			return nil
		case s.ctx.Err() != nil:
			return fmt.Errorf("%s: %w", what, context.Cause(s.ctx))
		case permanent(err):
			return fmt.Errorf("%s: %w", what, err)
		case since.IsZero():
			since = time.Now()
		case time.Since(since) >= s.opts.GiveUpAfter:
			return fmt.Errorf("%s: gave up after %d attempts: %w", what, attempt, err)
		}
		s.log.Warn("log store failed; retrying", "op", what, "attempt", attempt, "err", err)
		if !s.pause(retry.Jitter(delay)) {
			return fmt.Errorf("%s: %w (last error: %v)", what, context.Cause(s.ctx), err)
		}
		delay = min(2*delay, s.opts.BackoffMax)
	}
}

// pause sleeps for d and reports false if the Shipper was aborted meanwhile.
func (s *Shipper) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// permanent reports errors that no retry can cure.
func permanent(err error) bool {
	for _, target := range []error{ErrInvalid, ErrOutOfOrder, ErrFinished, ci.ErrConflict} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
