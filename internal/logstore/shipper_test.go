package logstore_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/logstore"
	"github.com/narwhal-ci/narwhal/internal/logstore/fs"
	"github.com/narwhal-ci/narwhal/internal/logstore/logstoretest"
)

// putRecord is one PutChunk or PutLast that returned nil.
type putRecord struct {
	seq  int
	data []byte
	at   time.Time
	last bool // PutLast
}

// testStore wraps a real fs store to record puts and inject faults.
type testStore struct {
	logstore.Store
	mu        sync.Mutex
	puts      []putRecord
	attempts  int
	failFirst int           // the first failFirst attempts fail...
	ambiguous bool          // ...after storing the chunk, when set
	err       error         // every attempt fails with err, when set
	block     chan struct{} // attempts wait until it is closed, when set
	entered   chan struct{} // receives a value when an attempt starts
	finishes  int           // Finish calls
	lasts     int           // PutLast calls that returned nil
}

func newTestStore(t *testing.T) *testStore {
	return &testStore{Store: fs.New(t.TempDir()), entered: make(chan struct{}, 1000)}
}

func (s *testStore) PutChunk(ctx context.Context, job string, seq int, data []byte) error {
	return s.put(ctx, job, seq, data, false)
}

func (s *testStore) PutLast(ctx context.Context, job string, seq int, data []byte) error {
	return s.put(ctx, job, seq, data, true)
}

// put is one attempt of PutChunk or (last) PutLast, with the faults set.
func (s *testStore) put(ctx context.Context, job string, seq int, data []byte, last bool) error {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	put := s.Store.PutChunk
	if last {
		put = s.Store.PutLast
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	if s.err != nil {
		return s.err
	}
	if s.attempts <= s.failFirst {
		if s.ambiguous {
			put(ctx, job, seq, data)
		}
		return fmt.Errorf("injected failure %d", s.attempts)
	}
	if err := put(ctx, job, seq, data); err != nil {
		return err
	}
	s.puts = append(s.puts, putRecord{seq: seq, data: bytes.Clone(data), at: time.Now(), last: last})
	if last {
		s.lasts++
	}
	return nil
}

func (s *testStore) Finish(ctx context.Context, job string) error {
	s.mu.Lock()
	s.finishes++
	s.mu.Unlock()
	return s.Store.Finish(ctx, job)
}

func (s *testStore) recorded() []putRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]putRecord(nil), s.puts...)
}

// fast retries quickly so that fault tests take milliseconds.
var fast = logstore.ShipperOptions{BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond}

func closeShipper(t *testing.T, sh *logstore.Shipper) {
	t.Helper()
	if err := sh.Close(logstoretest.Context(t)); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// expectLog reads the whole log and compares it, and that it is complete.
func expectLog(t *testing.T, s logstore.Store, want string) {
	t.Helper()
	data, complete := logstoretest.ReadAll(t, s, "job", 1<<20)
	if string(data) != want || !complete {
		t.Errorf("log = %q (complete %v), want %q complete", data, complete, want)
	}
}

func TestLineFormat(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	sh := logstore.NewShipper(s, "job", fast, nil)
	sh.Line("build", []byte("plain"))
	sh.Line("build", []byte("one newline dropped\n"))
	sh.Line("test", []byte("only one\n\n"))
	sh.Line("test", nil)
	closeShipper(t, sh)
	expectLog(t, s, "build | plain\nbuild | one newline dropped\ntest | only one\n\ntest | \n")
}

func TestShipperChunksBySize(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	opts := fast
	opts.ChunkSize, opts.FlushEvery = 50, time.Hour
	sh := logstore.NewShipper(s, "job", opts, nil)
	var want strings.Builder
	for i := range 20 {
		line := fmt.Sprintf("line %02d of 20", i) // "s | " + 14 + "\n" = 19 bytes
		sh.Line("s", []byte(line))
		fmt.Fprintf(&want, "s | %s\n", line)
	}
	closeShipper(t, sh)
	expectLog(t, s, want.String())
	puts := s.recorded()
	for i, p := range puts {
		last := i == len(puts)-1
		if p.seq != i || (!last && (len(p.data) < 50 || len(p.data) >= 50+19)) || !bytes.HasSuffix(p.data, []byte("\n")) {
			t.Errorf("chunk %d: seq %d, %d bytes %q", i, p.seq, len(p.data), p.data)
		}
	}
	if len(puts) != 7 { // 20 lines, 3 per chunk
		t.Errorf("%d chunks, want 7", len(puts))
	}
}

// TestShipperFlushesByTime: a line is put FlushEvery after it was written,
// not before, while the job is still running.
func TestShipperFlushesByTime(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	opts := fast
	opts.FlushEvery = 100 * time.Millisecond
	sh := logstore.NewShipper(s, "job", opts, nil)
	defer sh.Close(logstoretest.Context(t))
	for _, line := range []string{"first", "second"} {
		written := time.Now()
		sh.Line("s", []byte(line))
		p := waitForPut(t, s, len(s.recorded())+1)
		if elapsed := p.at.Sub(written); elapsed < opts.FlushEvery {
			t.Errorf("%q put after %v, before FlushEvery", line, elapsed)
		}
		if string(p.data) != "s | "+line+"\n" {
			t.Errorf("chunk %d = %q", p.seq, p.data)
		}
	}
}

// waitForPut waits until n chunks were put and returns the last.
func waitForPut(t *testing.T, s *testStore, n int) putRecord {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if puts := s.recorded(); len(puts) >= n {
			return puts[n-1]
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("chunk %d never put", n-1)
	return putRecord{}
}

func TestShipperCloseFlushesAndFinishes(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	opts := fast
	opts.FlushEvery = time.Hour
	sh := logstore.NewShipper(s, "job", opts, nil)
	sh.Line("s", []byte("buffered"))
	if got := s.recorded(); len(got) != 0 {
		t.Fatalf("put before Close: %v", got)
	}
	closeShipper(t, sh)
	closeShipper(t, sh) // idempotent
	sh.Line("s", []byte("after close"))
	expectLog(t, s, "s | buffered\n")
	if s.lasts != 1 || s.finishes != 0 {
		t.Errorf("%d PutLast and %d Finish calls, want the last chunk put with PutLast and no Finish", s.lasts, s.finishes)
	}
}

// TestShipperLastChunk: the chunk still open at Close goes with PutLast, the
// chunks sealed before it with PutChunk; a log whose chunks were all stored
// before Close, and a log without lines, are finished with Finish. Lines are
// 11 bytes, so every second line seals a chunk of 20; FlushEvery never does.
func TestShipperLastChunk(t *testing.T) {
	t.Parallel()
	opts := fast
	opts.ChunkSize, opts.FlushEvery = 20, time.Hour
	for _, tc := range []struct {
		name          string
		lines         int
		puts, last    int // puts in all, and how many went with PutLast
		finishes      int
		shippedBefore bool // wait until the sealed chunks are stored, then Close
	}{
		{"open chunk at Close", 5, 3, 1, 0, false},
		{"all stored before Close", 4, 2, 0, 1, true},
		{"no lines", 0, 0, 0, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStore(t)
			sh := logstore.NewShipper(s, "job", opts, nil)
			for range tc.lines {
				sh.Line("s", []byte("a line"))
			}
			if tc.shippedBefore {
				waitForPut(t, s, tc.puts)
			}
			closeShipper(t, sh)
			expectLog(t, s, strings.Repeat("s | a line\n", tc.lines))
			puts := s.recorded()
			for i, p := range puts {
				if p.last != (tc.last == 1 && i == len(puts)-1) {
					t.Errorf("put %d of %d: last = %v", i, len(puts), p.last)
				}
			}
			if len(puts) != tc.puts || s.lasts != tc.last || s.finishes != tc.finishes {
				t.Errorf("%d puts, %d with PutLast, %d Finish calls; want %d, %d, %d",
					len(puts), s.lasts, s.finishes, tc.puts, tc.last, tc.finishes)
			}
		})
	}
}
