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
	carry   int    // bytes at the start of the next chunk that a secret covers
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
		if k := w.lines(p); k > 0 {
			p = p[k:]
			continue
		}
		p = w.consume(p)
	}
	return n, nil
}

// maxBlock bounds the run of lines that lines takes at once (it stops after
// the line that reaches it), and so the scratch buffer its masking may take.
const maxBlock = 256 << 10

// lines handles the longest run of whole lines, none longer than MaxLine,
// that p starts with (up to maxBlock), all at once, and returns its length: 0
// when p does not start with such a line or a line or chunk of earlier
// writes is unfinished.
func (w *Writer) lines(p []byte) int {
	if len(w.partial) > 0 || w.carry > 0 {
		return 0
	}
	k := 0
	for k < maxBlock {
		i := bytes.IndexByte(p[k:], '\n')
		if i < 0 || i > MaxLine {
			break
		}
		k += i + 1
	}
	if k == 0 {
		return 0
	}
	w.sink.putLines(w, w.maskLines(p[:k]))
	return k
}

// maskLines returns block, whole lines, with every line masked as emit would
// mask it alone: block itself when it holds no secret, else the masked lines
// in scratch.
func (w *Writer) maskLines(block []byte) []byte {
	out, masked := w.sink.masker.appendMaskedLines(w.scratch[:0], block)
	if masked {
		w.scratch = out
	}
	return out
}

// consume handles the first line (or MaxLine bytes) of p and returns the rest.
func (w *Writer) consume(p []byte) []byte {
	i := bytes.IndexByte(p, '\n')
	if len(w.partial) > 0 {
		return w.join(p, i)
	}
	limit := w.limit()
	switch {
	case i >= 0 && i <= MaxLine:
		w.emit(p[:i], i, true)
		return p[i+1:]
	case i >= 0 && i < limit: // the line ends in the lookahead
		w.emit(p[:i], MaxLine, false)
		return p[MaxLine:]
	case i >= 0 || len(p) >= limit:
		w.emit(p[:limit], MaxLine, false)
		return p[MaxLine:]
	}
	w.partial = append(w.partial, p...)
	return nil
}

// limit is how many bytes of a line must be in hand before its first MaxLine
// bytes go out as a chunk of their own: MaxLine and the masker's lookahead
// (at least one byte, to know that the line is longer than MaxLine).
func (w *Writer) limit() int { return MaxLine + max(w.sink.masker.hold(), 1) }

// join continues the partial line with p, whose first newline is at i.
func (w *Writer) join(p []byte, i int) []byte {
	limit := w.limit()
	take := len(p)
	if i >= 0 {
		take = i
	}
	take = min(take, limit-len(w.partial))
	w.partial = append(w.partial, p[:take]...)
	p = p[take:]
	switch {
	case i == take: // the line ends: all of it is in partial
		w.flushPartial()
		return p[1:]
	case len(w.partial) == limit:
		w.emitChunk()
	}
	return p
}

// flushPartial emits the partial line as a line of its own (split into
// chunks when it is longer than MaxLine).
func (w *Writer) flushPartial() {
	for len(w.partial) > MaxLine {
		w.emitChunk()
	}
	w.emit(w.partial, len(w.partial), true)
	w.partial = w.partial[:0]
}

// emitChunk emits the first MaxLine bytes of partial as a chunk of a longer
// line and keeps the rest.
func (w *Writer) emitChunk() {
	w.emit(w.partial, MaxLine, false)
	w.partial = w.partial[:copy(w.partial, w.partial[MaxLine:])]
}

// emit masks window[:n] and hands it to the sink as a line. end says that the
// line ends at n; otherwise window[n:] is the lookahead that masks a secret
// straddling the split, and the carry masks its rest in the next chunk.
// sink.mu is held.
func (w *Writer) emit(window []byte, n int, end bool) {
	out, masked, next := w.sink.masker.appendMaskedChunk(w.scratch[:0], window, n, w.carry)
	if masked {
		w.scratch = out
	}
	w.carry = next
	if end {
		w.carry = 0
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
	w.emit([]byte(Prefix+msg), len(Prefix+msg), true)
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
