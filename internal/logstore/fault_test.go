package logstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/logstore"
	"github.com/narwhal-ci/narwhal/internal/logstore/logstoretest"
)

// TestShipperFlakyStore: failures, some of them after the chunk was stored,
// are retried until every chunk is stored once, in order.
func TestShipperFlakyStore(t *testing.T) {
	t.Parallel()
	for _, ambiguous := range []bool{false, true} {
		t.Run(fmt.Sprint("ambiguous=", ambiguous), func(t *testing.T) {
			s := newTestStore(t)
			s.failFirst, s.ambiguous = 7, ambiguous
			opts := fast
			opts.ChunkSize = 40
			sh := logstore.NewShipper(s, "job", opts, nil)
			var want strings.Builder
			for i := range 30 {
				sh.Line("s", []byte(fmt.Sprint("line ", i)))
				fmt.Fprintf(&want, "s | line %d\n", i)
			}
			closeShipper(t, sh)
			expectLog(t, s, want.String())
			for i, p := range s.recorded() {
				if p.seq != i {
					t.Errorf("put %d has seq %d", i, p.seq)
				}
			}
			if s.attempts <= 7 {
				t.Errorf("%d attempts: the failures were not injected", s.attempts)
			}
		})
	}
}

// TestShipperBackPressure: with the store stuck, Line stops accepting lines
// once MaxPending chunks wait, instead of buffering without bound; when the
// store recovers, every line arrives.
func TestShipperBackPressure(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	s.block = make(chan struct{})
	opts := fast
	opts.ChunkSize, opts.MaxPending, opts.FlushEvery = 100, 2, time.Hour
	sh := logstore.NewShipper(s, "job", opts, nil)

	const lines = 200
	line := strings.Repeat("x", 46) // 51 bytes with "s | " and "\n": 2 lines per chunk
	var accepted atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range lines {
			sh.Line("s", []byte(line))
			accepted.Add(1)
		}
	}()
	<-s.entered // the first put is stuck
	time.Sleep(200 * time.Millisecond)
	// MaxPending chunks of 2 lines; the next Line waits for room.
	if n := accepted.Load(); n > 4 {
		t.Errorf("%d lines accepted while the store was stuck; want at most 4", n)
	}
	select {
	case <-done:
		t.Fatal("every Line returned while the store was stuck")
	default:
	}
	close(s.block)
	<-done
	closeShipper(t, sh)
	data, complete := logstoretest.ReadAll(t, s, "job", 1<<20)
	if len(data) != lines*51 || !complete || strings.Count(string(data), "s | "+line+"\n") != lines {
		t.Errorf("log has %d bytes (complete %v), want %d lines of 51", len(data), complete, lines)
	}
}

// TestShipperGivesUp: a store that keeps failing does not hang the job:
// after GiveUpAfter the Shipper drops the log and Close reports why.
func TestShipperGivesUp(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	s.err = errors.New("store down")
	opts := fast
	opts.ChunkSize, opts.MaxPending, opts.GiveUpAfter = 20, 1, 100*time.Millisecond
	sh := logstore.NewShipper(s, "job", opts, nil)
	start := time.Now()
	for range 100 {
		sh.Line("s", []byte("a line that is lost"))
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Lines took %v with a dead store", elapsed)
	}
	err := sh.Close(logstoretest.Context(t))
	if err == nil || !strings.Contains(err.Error(), "store down") {
		t.Errorf("Close = %v, want the store's error", err)
	}
	if _, _, err := s.Read(logstoretest.Context(t), "job", 0, 10); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("Read after giving up: %v, want ErrNotFound (nothing stored, not finished)", err)
	}
}

// TestShipperPermanentError: an error no retry can cure is not retried.
func TestShipperPermanentError(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	s.err = fmt.Errorf("chunk 0: %w", ci.ErrConflict)
	sh := logstore.NewShipper(s, "job", fast, nil)
	sh.Line("s", []byte("x"))
	if err := sh.Close(logstoretest.Context(t)); !errors.Is(err, ci.ErrConflict) {
		t.Errorf("Close = %v, want ErrConflict", err)
	}
	if s.attempts != 1 {
		t.Errorf("%d attempts, want 1", s.attempts)
	}
}

// TestShipperCloseDeadline: Close gives up when its context ends and leaves
// the log unfinished.
func TestShipperCloseDeadline(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	s.block = make(chan struct{}) // never closed
	sh := logstore.NewShipper(s, "job", fast, nil)
	sh.Line("s", []byte("x"))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := sh.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Close took %v", elapsed)
	}
	if s.finishes != 0 || s.lasts != 0 {
		t.Error("log finished although a chunk was not stored")
	}
}
