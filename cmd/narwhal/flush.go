package main

import (
	"bufio"
	"io"
	"os"
	"sync"
	"time"
)

// flushDelay is how long console output may wait in exec's buffer: a line
// reaches the terminal at most this long after the step printed it.
const flushDelay = 50 * time.Millisecond

// delayedWriter buffers writes to w and writes them out when the buffer
// fills, flushDelay after the first write that the buffer holds, and on
// Close, so that a step printing many lines costs a few large writes instead
// of one per line while its output still shows up live. It is safe for
// concurrent use. Errors writing to w are those of a bufio.Writer: once one
// happens, later writes fail with it.
type delayedWriter struct {
	mu      sync.Mutex
	out     io.Writer
	buf     *bufio.Writer
	timer   *time.Timer
	pending bool // the timer is set for what buf holds
}

// newDelayedWriter returns a delayedWriter in front of w.
func newDelayedWriter(w io.Writer) *delayedWriter {
	d := &delayedWriter{out: w, buf: bufio.NewWriterSize(w, 64<<10)}
	d.timer = time.AfterFunc(time.Hour, d.flush)
	d.timer.Stop()
	return d
}

// Write buffers p and makes sure it is written within flushDelay.
func (d *delayedWriter) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n, err := d.buf.Write(p)
	if !d.pending && d.buf.Buffered() > 0 {
		d.pending = true
		d.timer.Reset(flushDelay)
	}
	return n, err
}

// Stat is that of the underlying file, so that a console in front of a
// terminal still sees one (and colours); it fails when w is not a file.
func (d *delayedWriter) Stat() (os.FileInfo, error) {
	if f, ok := d.out.(interface{ Stat() (os.FileInfo, error) }); ok {
		return f.Stat()
	}
	return nil, os.ErrInvalid
}

// flush writes out what the buffer holds.
func (d *delayedWriter) flush() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pending = false
	d.buf.Flush()
}

// Close writes out what the buffer holds and returns the first error of
// writing to w, if any. Writes after Close are buffered again.
func (d *delayedWriter) Close() error {
	d.timer.Stop()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pending = false
	return d.buf.Flush()
}
