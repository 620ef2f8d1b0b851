// Package logsink turns the output streams of a job's steps into log lines:
// split at newlines (and at MaxLine), secrets masked, and the whole job's
// output capped in constant memory by keeping its head and its tail.
//
// The cap is shared by all steps of a job. The first limit/2 bytes of the
// job's lines are delivered live, in the order they are written. Once a line
// does not fit in that head, the head is closed for good and every later line
// goes into one tail buffer shared by the job's steps, which keeps the most
// recent lines within the tail budget (limit - limit/2 bytes, minus what
// earlier tails already delivered). When a step's Writer is closed, its lines
// still in the tail buffer are delivered, preceded, if any of its bytes were
// dropped, by a marker line "[narwhal] N bytes elided". So a job delivers at
// most limit bytes of step output plus markers, and holds at most limit/2
// bytes of it in memory.
package logsink

import (
	"bytes"
	"fmt"
	"sync"
)

// DefaultLimit is the per-job output cap used when New is given limit <= 0:
// 8 MiB of head delivered live and 8 MiB of tail held until the step ends,
// which bounds the memory a job's log can take whatever a step prints.
const DefaultLimit int64 = 16 << 20

// MaxLine is the longest line delivered; longer lines are split after
// MaxLine bytes. A secret straddling such a split is masked on both sides of
// it: the writer holds back the longest secret's length before a split.
const MaxLine = 64 << 10

// Prefix starts every line that narwhal itself adds to a step's log.
const Prefix = "[narwhal] "

// Deliver receives one line of a step's log, without its newline. Calls are
// serialised across all Writers of a Sink (they are made with the Sink's lock
// held, so Deliver must not call back into the Sink), and line is only valid
// during the call: copy it to keep it. All lines of a step are delivered
// before its Writer's Close returns.
type Deliver func(step string, line []byte)

// Sink is the log state of one job: the shared cap, the masker and the
// delivery function. Create one per job with New and one Writer per step.
type Sink struct {
	mu       sync.Mutex
	deliver  Deliver
	masker   *Masker
	headCap  int64 // bytes that may be delivered live
	headUsed int64
	closed   bool  // the head is full: lines go to the tail
	tailCap  int64 // bytes the tail may deliver over the job
	tailUsed int64
	tail     ring
}

// New returns a Sink that caps the job's output at limit bytes (DefaultLimit
// when limit <= 0), masks the given secret values and hands lines to deliver.
// Line sizes count the newline.
func New(limit int64, secrets []string, deliver Deliver) *Sink {
	if limit <= 0 {
		limit = DefaultLimit
	}
	head := limit / 2
	return &Sink{
		deliver: deliver,
		masker:  NewMasker(secrets),
		headCap: head,
		tailCap: limit - head,
		tail:    ring{max: int(limit - head)},
	}
}

// Masker returns the Sink's masker, for masking text that is not log output
// (error messages, for instance).
func (s *Sink) Masker() *Masker { return s.masker }

// Writer returns a new writer for the step's output. Each step of the job
// needs its own Writer, closed when the step ends.
func (s *Sink) Writer(step string) *Writer {
	return &Writer{sink: s, name: step}
}

// put handles one masked line of w. s.mu is held.
func (s *Sink) put(w *Writer, line []byte) {
	n := int64(len(line)) + 1
	if !s.closed && s.headUsed+n <= s.headCap {
		s.headUsed += n
		s.deliver(w.name, line)
		return
	}
	s.closed = true
	s.tail.add(w, line, int(s.tailCap-s.tailUsed))
}

// putLines handles block, masked lines of w each ending in a newline, as
// put would one by one. Once the head is closed, the rest of the block goes
// into the tail at once when the tail's budget is larger than any line, so
// that no line of it can be dropped for being too long. s.mu is held.
func (s *Sink) putLines(w *Writer, block []byte) {
	for len(block) > 0 {
		i := bytes.IndexByte(block, '\n')
		s.put(w, block[:i])
		block = block[i+1:]
		if limit := int(s.tailCap - s.tailUsed); s.closed && limit > MaxLine+1 && len(block) > 0 {
			s.tail.addLines(w, block, limit)
			return
		}
	}
}

// finish delivers w's elision marker and its lines still in the tail, then
// shrinks the tail to the budget left. s.mu is held.
func (s *Sink) finish(w *Writer) {
	if w.elided > 0 {
		s.deliver(w.name, fmt.Appendf(nil, "%s%d bytes elided", Prefix, w.elided))
	}
	if w.queued == 0 {
		return
	}
	s.tailUsed += int64(s.tail.extract(w, s.deliver))
	if over := s.tail.size - int(s.tailCap-s.tailUsed); over > 0 {
		s.tail.drop(over)
	}
}
