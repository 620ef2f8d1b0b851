package intake

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// gatedMarker records each MarkPublished call; a call waits for gate when
// one is set, and fails with fail when that is set.
type gatedMarker struct {
	mu      sync.Mutex
	calls   [][]ci.JobMessage
	entered chan struct{}
	gate    chan struct{}
	fail    error
}

func (m *gatedMarker) MarkPublished(_ context.Context, msgs []ci.JobMessage) error {
	m.mu.Lock()
	m.calls = append(m.calls, slices.Clone(msgs))
	first := len(m.calls) == 1
	m.mu.Unlock()
	if first && m.gate != nil {
		close(m.entered)
		<-m.gate
	}
	return m.fail
}

// While a call is in flight, the marks that arrive wait and go together in
// the next call; every caller gets the outcome of the call carrying its mark.
func TestCoalescerBatchesWhileInFlight(t *testing.T) {
	t.Parallel()
	m := &gatedMarker{entered: make(chan struct{}), gate: make(chan struct{})}
	var c coalescer
	errs := make(chan error, 11)
	go func() { errs <- c.mark(t.Context(), m, ci.JobMessage{JobID: "first", Attempt: 1}) }()
	<-m.entered
	for i := range 10 {
		go func() { errs <- c.mark(t.Context(), m, ci.JobMessage{JobID: fmt.Sprint("j", i), Attempt: 1}) }()
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		c.mu.Lock()
		n := len(c.pending)
		c.mu.Unlock()
		if n == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d marks pending, want 10", n)
		}
	}
	close(m.gate)
	for range 11 {
		if err := <-errs; err != nil {
			t.Fatalf("mark: %v", err)
		}
	}
	if len(m.calls) != 2 || len(m.calls[0]) != 1 || len(m.calls[1]) != 10 {
		t.Fatalf("calls %v, want the first mark alone, then the 10 together", m.calls)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.flushing || len(c.pending) != 0 {
		t.Fatalf("coalescer left flushing=%v with %d pending", c.flushing, len(c.pending))
	}
}

// A failed call fails every mark it carried, and the next mark is written
// by a call of its own.
func TestCoalescerError(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	m := &gatedMarker{fail: boom}
	var c coalescer
	if err := c.mark(t.Context(), m, ci.JobMessage{JobID: "a", Attempt: 1}); !errors.Is(err, boom) {
		t.Fatalf("mark: %v, want boom", err)
	}
	m.fail = nil
	if err := c.mark(t.Context(), m, ci.JobMessage{JobID: "b", Attempt: 1}); err != nil || len(m.calls) != 2 {
		t.Fatalf("mark after a failure: %v, %d calls", err, len(m.calls))
	}
}

// Many concurrent Accepts on the SQLite store all end published, each
// answered once, whatever calls their marks were coalesced into.
func TestConcurrentAcceptsAllMarked(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const n = 64
	var wg sync.WaitGroup
	outs := make([]Outcome, n)
	for i := range n {
		wg.Go(func() { outs[i] = r.accept(t, fmt.Sprint("d-", i), sample(fmt.Sprintf("c%05d", i))) })
	}
	wg.Wait()
	for _, out := range outs {
		if got := r.get(t, out.JobID); !out.Published || out.Problem != nil || !got.Published || got.Version != 2 {
			t.Fatalf("outcome %+v, stored %+v: want published at version 2", out, got)
		}
	}
	if m := r.drain(t); len(m) != n {
		t.Fatalf("got %s, want %d", msgs(len(m)), n)
	}
}
