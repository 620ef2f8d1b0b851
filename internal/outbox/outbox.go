// Package outbox is runnerd's never-lost reports: a disk-backed FIFO of
// ci.Message delivered in order, one at a time, to a send function (in
// runnerd, the queue's Publish) that is retried with backoff until it
// succeeds. A message is on disk, synced, before Enqueue returns: the
// messages enqueued together are appended to a segment file as one batch,
// with one write and one sync (group commit, see Enqueue). A delivered
// message is recorded in the acked file and its segment removed once all of
// it is delivered, so reports survive broker outages and runnerd restarts.
// Delivery is at least once: a crash between a successful send and the
// record of it sends the message again after the restart, and consumers
// dedup by message ID. docs/logs.md describes the guarantees.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/reserve"
)

// Send delivers one message. It returns nil only when the message was taken
// (for a queue: confirmed by the broker). It is called with a context that
// ends after Options.SendTimeout or when the outbox closes.
type Send func(ctx context.Context, m ci.Message) error

// Defaults of Options.
const (
	DefaultInitialBackoff = 200 * time.Millisecond
	DefaultMaxBackoff     = 30 * time.Second
	DefaultSendTimeout    = 30 * time.Second
)

// Options tunes an Outbox. A zero field takes its default.
type Options struct {
	// InitialBackoff and MaxBackoff bound the exponential backoff between
	// attempts to send the oldest message. Each wait is jittered to between
	// half of and the full current backoff.
	InitialBackoff, MaxBackoff time.Duration
	// SendTimeout bounds one call of Send.
	SendTimeout time.Duration
	// Reserve is the disk space held in the directory (a file of zeros,
	// internal/reserve) and released when a message cannot be written for
	// want of space, so that the reports of a job that filled the disk are
	// still written. 0 means reserve.DefaultSize (1 MiB); < 0 holds none.
	Reserve int64
}

func (o Options) withDefaults() Options {
	if o.InitialBackoff <= 0 {
		o.InitialBackoff = DefaultInitialBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	o.MaxBackoff = max(o.MaxBackoff, o.InitialBackoff)
	if o.SendTimeout <= 0 {
		o.SendTimeout = DefaultSendTimeout
	}
	return o
}

// Outbox is a durable FIFO of messages with one delivering goroutine. Enqueue,
// Pending, Flush and Close are safe for concurrent use.
type Outbox struct {
	dir    string
	send   Send
	opts   Options
	log    *slog.Logger
	unlock func() // releases the directory lock
	spare  *reserve.Reserve

	enqMu   sync.Mutex // guards the batch being gathered and nextSeq
	enqCond *sync.Cond // signalled when writing ends
	nextSeq uint64     // the seq of the next message written
	waiting []*enqueue // gathered for the next batch
	writing bool       // an Enqueue is writing a batch, or about to

	// active and buf belong to the Enqueue writing a batch (writing).
	active *segWriter // the segment batches are appended to; nil: none yet
	buf    []byte     // the frames of the batch being written

	mu        sync.Mutex
	queue     []item         // pending messages, oldest first; queue[0] may be in flight
	remaining map[uint64]int // segment → its messages not delivered yet
	activeSeq uint64         // the seq of active, 0 when none
	closed    bool           // Close was called
	changed   chan struct{}  // closed and replaced whenever the queue shrinks

	// The delivering goroutine's own (Close's once it returned).
	acked     *os.File // holds the seq of the last message delivered (ackedName)
	delivered uint64   // the seq of the last message delivered
	ackedSeq  uint64   // the seq written to acked

	wake   chan struct{} // capacity 1: a message was enqueued
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when the delivering goroutine returned

	closeOnce sync.Once
}

// item is a pending message: its seq, and where its frame is: the segment
// (by its first seq), the offset and the length.
type item struct {
	seq, seg uint64
	off      int64
	n        int
}

// enqueue is one Enqueue waiting for its batch to be written.
type enqueue struct {
	m    ci.Message
	done chan error // errLead: write the next batch
}

// errLead tells a waiting Enqueue to write the next batch.
var errLead = errors.New("write the next batch")

// Open opens the outbox in dir, creating the directory if needed, and starts
// delivering the messages pending there (left by an earlier process too) in
// order, oldest first, one at a time. A message counts as delivered only
// after send returned nil; on an error it is retried with exponential backoff
// and nothing behind it overtakes it. A message that cannot be decoded is
// kept in dir/corrupt with an error log line instead of blocking the queue.
// Batch files of the outbox's first format are turned into a segment first.
// Delivery goes on until Close or until ctx ends; the messages not delivered
// then stay on disk for the next Open. One process at a time may hold dir
// open: a second Open of the same directory fails. logger may be nil.
func Open(ctx context.Context, dir string, send Send, opts Options, logger *slog.Logger) (*Outbox, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open outbox: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open outbox %s: %w", dir, err)
	}
	rec, err := recoverQueue(dir, logger)
	if err != nil {
		unlock()
		return nil, fmt.Errorf("open outbox %s: %w", dir, err)
	}
	acked, err := os.OpenFile(filepath.Join(dir, ackedName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		unlock()
		return nil, fmt.Errorf("open outbox %s: %w", dir, err)
	}
	o := &Outbox{
		dir: dir, send: send, opts: opts.withDefaults(), log: logger, unlock: unlock,
		spare:   reserve.Open(dir, opts.Reserve, logger),
		nextSeq: rec.nextSeq, queue: rec.items, remaining: rec.remaining, acked: acked,
		changed: make(chan struct{}), wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
	o.enqCond = sync.NewCond(&o.enqMu)
	if n := len(o.queue); n > 0 {
		logger.Info("outbox: resuming delivery of pending messages", "pending", n)
	}
	o.ctx, o.cancel = context.WithCancel(ctx)
	go o.run()
	return o, nil
}

// Enqueue writes m to disk durably (appended to a segment file, fsync) and
// queues it behind every message enqueued before. When Enqueue returns nil
// the message survives a crash. Concurrent Enqueues go to disk together
// (group commit): one writes a batch while the others gather for the next,
// which the first of them writes, so a burst of n reports costs one write
// and one fsync per batch instead of one per report, each Enqueue still
// returning only once its own message is synced. A new segment (a file
// created and the directory synced) is started once the newest holds a
// megabyte. A write that fails for want of space releases
// the outbox's reserved space and is tried once more; the reserve is taken
// back after a delivery once the disk has room again. After Close it fails
// with ci.ErrClosed.
func (o *Outbox) Enqueue(ctx context.Context, m ci.Message) error {
	return o.Queue(ctx, m)()
}

// Queue is Enqueue in two steps: it takes m's place in the queue at once,
// behind every message queued before, so that a caller that serialises its
// calls of Queue (under a lock of its own) orders its messages without
// waiting for each to be on disk; the returned wait then returns what
// Enqueue would, once m is on disk. wait must be called, once: the writing
// of a batch may be its turn.
func (o *Outbox) Queue(ctx context.Context, m ci.Message) (wait func() error) {
	if err := context.Cause(ctx); err != nil {
		return func() error { return fmt.Errorf("enqueue message %s: %w", m.ID, err) }
	}
	e := &enqueue{m: m, done: make(chan error, 1)}
	o.enqMu.Lock()
	if o.isClosed() {
		o.enqMu.Unlock()
		return func() error { return fmt.Errorf("enqueue message %s: %w", m.ID, ci.ErrClosed) }
	}
	o.waiting = append(o.waiting, e)
	lead := !o.writing
	o.writing = true
	o.enqMu.Unlock()
	return func() error {
		if !lead {
			if err := <-e.done; err != errLead {
				return err
			}
		}
		o.writeBatch()
		return <-e.done
	}
}

// writeBatch writes the gathered Enqueues as one batch, answers them,
// and hands the writing on to the first Enqueue gathered meanwhile.
func (o *Outbox) writeBatch() {
	o.enqMu.Lock()
	batch, seq := o.waiting, o.nextSeq
	o.waiting = nil
	o.nextSeq += uint64(len(batch))
	o.enqMu.Unlock()
	err := o.store(seq, batch)
	for _, e := range batch {
		if err != nil {
			e.done <- fmt.Errorf("enqueue message %s: %w", e.m.ID, err)
		} else {
			e.done <- nil
		}
	}
	o.enqMu.Lock()
	defer o.enqMu.Unlock()
	if len(o.waiting) > 0 {
		o.waiting[0].done <- errLead
		return
	}
	o.writing = false
	o.enqCond.Broadcast()
}

// store writes batch as message seq onwards and queues it; after Close it
// writes nothing and fails with ci.ErrClosed.
func (o *Outbox) store(seq uint64, batch []*enqueue) error {
	if o.isClosed() {
		return ci.ErrClosed
	}
	frames, ends := o.buf[:0], make([]int, len(batch))
	for i, e := range batch {
		frames = appendFrame(frames, e.m)
		ends[i] = len(frames)
	}
	o.buf = frames
	seg, off, err := o.write(seq, len(batch), frames)
	if err != nil {
		return err
	}
	o.mu.Lock()
	start := 0
	for i, end := range ends {
		o.queue = append(o.queue, item{seq: seq + uint64(i), seg: seg, off: off + int64(start), n: end - start})
		start = end
	}
	o.remaining[seg] += len(batch)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return nil
}

// Pending returns how many messages are not delivered yet, the one being sent
// included (for the metrics gauge).
func (o *Outbox) Pending() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.queue)
}

// Flush waits until every message is delivered (Pending() == 0). It returns
// the context's cause if ctx ends first, and ci.ErrClosed if delivery stopped
// (Close, or the end of Open's context) with messages still pending.
func (o *Outbox) Flush(ctx context.Context) error {
	for {
		o.mu.Lock()
		n, closed, changed := len(o.queue), o.closed, o.changed
		o.mu.Unlock()
		switch {
		case n == 0:
			return nil
		case closed:
			return fmt.Errorf("flush outbox: %d pending: %w", n, ci.ErrClosed)
		}
		select {
		case <-changed:
		case <-o.done: // delivery stopped: Open's context ended
			if n := o.Pending(); n > 0 {
				return fmt.Errorf("flush outbox: delivery stopped with %d pending: %w", n, ci.ErrClosed)
			}
			return nil
		case <-ctx.Done():
			return fmt.Errorf("flush outbox: %d pending: %w", n, context.Cause(ctx))
		}
	}
}

// Close stops delivering, waiting for the send in flight to return (its
// context is cancelled), and closes its files and releases the directory. Pending messages stay
// on disk for the next Open. Close is idempotent.
func (o *Outbox) Close() error {
	o.closeOnce.Do(func() {
		o.enqMu.Lock() // no batch is written once closed is set and writing is over
		o.mu.Lock()
		o.closed = true
		o.mu.Unlock()
		for o.writing {
			o.enqCond.Wait()
		}
		o.enqMu.Unlock()
		o.cancel()
		<-o.done
		o.recordAcked()
		if o.active != nil {
			o.active.f.Close()
		}
		o.acked.Close()
		o.unlock()
	})
	return nil
}

func (o *Outbox) isClosed() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.closed
}
