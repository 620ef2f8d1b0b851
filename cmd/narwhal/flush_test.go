package main

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the flush timer's goroutine.
type syncBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.buf.Write(p)
}

func (s *syncBuffer) read() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String(), s.writes
}

// TestDelayedWriterIsLive: a line shows up within about flushDelay without
// Close, many lines cost one write, and Close writes out the rest at once.
func TestDelayedWriterIsLive(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	d := newDelayedWriter(&out)
	start := time.Now()
	for range 1000 {
		d.Write([]byte("build | line\n"))
	}
	for {
		if got, _ := out.read(); got != "" {
			break
		}
		if time.Since(start) > 20*flushDelay {
			t.Fatalf("nothing written %v after the lines", time.Since(start))
		}
		time.Sleep(flushDelay / 10)
	}
	// One write, or a few if this goroutine was held up past flushDelay.
	got, writes := out.read()
	if got != strings.Repeat("build | line\n", 1000) || writes > 3 {
		t.Fatalf("%d bytes in %d writes, want %d in 1", len(got), writes, 13*1000)
	}
	d.Write([]byte("summary\n"))
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if got, after := out.read(); !strings.HasSuffix(got, "build | line\nsummary\n") || after != writes+1 {
		t.Fatalf("after Close: ...%q in %d more writes, want 1", got[len(got)-20:], after-writes)
	}
}

// TestDelayedWriterKeepsTheTerminal: the console behind it still sees the
// file it writes to (and so colours on a terminal).
func TestDelayedWriterKeepsTheTerminal(t *testing.T) {
	t.Parallel()
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if st, err := newDelayedWriter(f).Stat(); err != nil || !st.Mode().IsRegular() {
		t.Fatalf("Stat = %v, %v; want the file's", st, err)
	}
	if _, err := newDelayedWriter(&bytes.Buffer{}).Stat(); err == nil {
		t.Fatal("Stat of a buffer succeeded")
	}
}
