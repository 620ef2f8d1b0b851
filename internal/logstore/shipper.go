package logstore

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Defaults of ShipperOptions.
const (
	DefaultChunkSize   = 256 << 10
	DefaultFlushEvery  = time.Second
	DefaultMaxPending  = 8
	DefaultPutTimeout  = 30 * time.Second
	DefaultBackoffMin  = 100 * time.Millisecond
	DefaultBackoffMax  = 10 * time.Second
	DefaultGiveUpAfter = 10 * time.Minute
)

// ShipperOptions tunes a Shipper. A zero field takes its default.
type ShipperOptions struct {
	// ChunkSize seals the open chunk once it holds this many bytes. A chunk
	// ends at a line boundary, so it may exceed ChunkSize by one line.
	ChunkSize int
	// FlushEvery seals a non-empty open chunk this long after its first line,
	// so that the log is readable during the run. It is checked while no put
	// is in flight: behind a slow store, lines gather into bigger chunks.
	FlushEvery time.Duration
	// MaxPending is how many sealed chunks (the one being put included) may
	// wait for the store before Line blocks.
	MaxPending int
	// PutTimeout bounds one PutChunk or Finish attempt.
	PutTimeout time.Duration
	// BackoffMin and BackoffMax bound the exponential backoff (with jitter)
	// between attempts of a failing put.
	BackoffMin, BackoffMax time.Duration
	// GiveUpAfter is how long one chunk may keep failing before the Shipper
	// gives up: it then drops the rest of the log and Close reports the error.
	GiveUpAfter time.Duration
}

func (o ShipperOptions) withDefaults() ShipperOptions {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	def(&o.FlushEvery, DefaultFlushEvery)
	def(&o.PutTimeout, DefaultPutTimeout)
	def(&o.BackoffMin, DefaultBackoffMin)
	def(&o.BackoffMax, DefaultBackoffMax)
	def(&o.GiveUpAfter, DefaultGiveUpAfter)
	return o
}

// Shipper buffers the log lines of one job and ships them to a Store in
// chunks, from a background goroutine that retries failed puts with backoff.
// Line and Close may be called from any goroutine; Close must be called once
// the job's output has ended, or the goroutine leaks.
//
// Memory is bounded: at most MaxPending sealed chunks plus the open one are
// held. When MaxPending chunks wait for a slow store, Line blocks until one
// is stored (back-pressure on the job's output rather than unbounded memory).
// If a chunk cannot be stored within GiveUpAfter, or the store rejects it for
// good (ErrInvalid, ErrOutOfOrder, ErrFinished, ci.ErrConflict), the Shipper
// stops: later lines are dropped, the log is never finished (readers see
// complete=false) and Close returns that error.
type Shipper struct {
	store Store
	jobID string
	opts  ShipperOptions
	log   *slog.Logger

	mu       sync.Mutex
	space    *sync.Cond // broadcast when pending shrinks or the shipper fails
	buf      []byte     // the open chunk
	first    time.Time  // when the first line of buf was written
	pending  [][]byte   // sealed chunks, oldest first; pending[0] may be in flight
	next     int        // seq of pending[0]
	closing  bool
	finished bool  // the last chunk was stored with PutLast: no Finish to do
	err      error // first unrecovered error

	wake   chan struct{} // capacity 1: the loop should look again
	ctx    context.Context
	cancel context.CancelCauseFunc // ends puts when Close's context ends
	done   chan struct{}           // closed when the loop returned

	closeOnce sync.Once
	closeErr  error
}

// NewShipper starts shipping the log of jobID to store. logger may be nil.
func NewShipper(store Store, jobID string, opts ShipperOptions, logger *slog.Logger) *Shipper {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Shipper{
		store: store,
		jobID: jobID,
		opts:  opts.withDefaults(),
		log:   logger.With("job_id", jobID),
		wake:  make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
	s.space = sync.NewCond(&s.mu)
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	go s.run()
	return s
}

// Line appends "step | line\n" to the log. One trailing newline of line is
// dropped; line should hold no other newline (internal/logsink splits output
// into lines). line is copied before Line returns. Line blocks while
// MaxPending chunks wait for the store; after Close, or once the Shipper gave
// up, the line is dropped.
func (s *Shipper) Line(step string, line []byte) {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.pending) >= s.opts.MaxPending && s.err == nil {
		s.space.Wait()
	}
	if s.err != nil || s.closing {
		return
	}
	if len(s.buf) == 0 {
		s.first = time.Now()
		s.signal()
	}
	s.buf = append(s.buf, step...)
	s.buf = append(s.buf, " | "...)
	s.buf = append(s.buf, line...)
	s.buf = append(s.buf, '\n')
	if len(s.buf) >= s.opts.ChunkSize {
		s.sealLocked()
	}
}

// Close ships what is left and finishes the log: the last chunk goes with
// PutLast, a log without lines gets Finish. It returns the first
// unrecovered error: a chunk given up, or Finish failing. When ctx ends
// first, the put in flight is abandoned, the log stays unfinished and Close
// returns the context's cause. Close is idempotent and returns the same
// result every time.
func (s *Shipper) Close(ctx context.Context) error {
	s.closeOnce.Do(func() { s.closeErr = s.close(ctx) })
	return s.closeErr
}

func (s *Shipper) close(ctx context.Context) error {
	defer s.cancel(context.Canceled)
	stop := context.AfterFunc(ctx, func() { s.cancel(context.Cause(ctx)) })
	defer stop()
	s.mu.Lock()
	s.closing = true
	s.signal()
	s.mu.Unlock()
	<-s.done
	s.mu.Lock()
	err, finished := s.err, s.finished
	s.mu.Unlock()
	if err != nil || finished {
		return err
	}
	return s.retry("finish log", func(ctx context.Context) error { return s.store.Finish(ctx, s.jobID) })
}

// signal wakes the loop without blocking.
func (s *Shipper) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// sealLocked moves the open chunk to pending. The caller holds mu.
func (s *Shipper) sealLocked() {
	s.pending = append(s.pending, s.buf)
	s.buf = nil
	s.signal()
}
