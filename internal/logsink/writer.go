package logsink

import (
	"bytes"
	"errors"
	"sync"
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("logsink: write to closed writer")

// Writer is the io.Writer of one step's output. It is safe for concurrent
// use (stdout and stderr may share it); lines keep the order of the writes.
type Writer struct {
	sink    *Sink
	name    string
	mu      sync.Mutex
	partial []byte // the unterminated end of the output so far
	scratch []byte // reused for masked lines
	closed  bool

	// guarded by sink.mu
	elided int64 // bytes of this step dropped by the cap
	queued int   // bytes of this step waiting in the tail
}

// Write splits p into lines, joining it to the unterminated end of earlier
// writes. It never fails before Close.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, ErrClosed
	}
	w.sink.mu.Lock()
	defer w.sink.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		p = w.consume(p)
	}
	return n, nil
}

// consume handles the first line (or MaxLine bytes) of p and returns the rest.
func (w *Writer) consume(p []byte) []byte {
	i := bytes.IndexByte(p, '\n')
	if len(w.partial) > 0 {
		return w.join(p, i)
	}
	switch {
	case i >= 0 && i <= MaxLine:
		w.line(p[:i])
		return p[i+1:]
	case len(p) > MaxLine:
		w.line(p[:MaxLine])
		return p[MaxLine:]
	}
	w.partial = append(w.partial, p...)
	return nil
}

// join continues the partial line with p, whose first newline is at i.
func (w *Writer) join(p []byte, i int) []byte {
	room := MaxLine - len(w.partial)
	if i >= 0 && i <= room {
		w.partial = append(w.partial, p[:i]...)
		w.flushPartial()
		return p[i+1:]
	}
	if room == 0 {
		w.flushPartial()
		return p
	}
	take := min(len(p), room)
	w.partial = append(w.partial, p[:take]...)
	return p[take:]
}

// flushPartial emits the partial line as a line of its own.
func (w *Writer) flushPartial() {
	w.line(w.partial)
	w.partial = w.partial[:0]
}

// line masks one complete line and hands it to the sink. sink.mu is held.
func (w *Writer) line(b []byte) {
	out, masked := w.sink.masker.appendMasked(w.scratch[:0], b)
	if masked {
		w.scratch = out
	}
	w.sink.put(w, out)
}

// Note adds a line of narwhal's own, "[narwhal] " + msg, to the step's log,
// after ending any unterminated output line. It is masked and counted like
// output. Notes after Close are dropped.
func (w *Writer) Note(msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.sink.mu.Lock()
	defer w.sink.mu.Unlock()
	if len(w.partial) > 0 {
		w.flushPartial()
	}
	w.line([]byte(Prefix + msg))
}

// Close emits the unterminated last line, if any, then the step's elision
// marker and its lines held in the tail. Everything of the step has been
// delivered when Close returns. Close is idempotent and returns nil.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	w.sink.mu.Lock()
	defer w.sink.mu.Unlock()
	if len(w.partial) > 0 {
		w.flushPartial()
	}
	w.sink.finish(w)
	w.partial, w.scratch = nil, nil
	return nil
}
