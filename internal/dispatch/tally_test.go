package dispatch

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// recordedWrites is a tally's write that sums what it was given, and can
// be held to let changes pile up behind a flush.
type recordedWrites struct {
	mu      sync.Mutex
	flushes int
	placed  map[string]int
	gate    chan struct{} // nil: never held
	entered chan struct{}
}

func (w *recordedWrites) write(_ context.Context, changes map[string]load) {
	if w.gate != nil {
		w.entered <- struct{}{}
		<-w.gate
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushes++
	for id, l := range changes {
		w.placed[id] += l.placed - l.left
	}
}

// Every change is written by the time the last add returned, in fewer
// flushes than changes when they come together.
func TestTallyWritesEveryChange(t *testing.T) {
	t.Parallel()
	w := &recordedWrites{placed: map[string]int{}, gate: make(chan struct{}), entered: make(chan struct{}, 100)}
	tl := newTally(w.write)
	var wg sync.WaitGroup
	wg.Go(func() { tl.add(t.Context(), "r0", load{placed: 1}) })
	<-w.entered // the first flush is under way: the next changes pile up
	const n = 60
	for i := range n {
		wg.Go(func() { tl.add(t.Context(), fmt.Sprintf("r%d", i%3), load{placed: 1}) })
	}
	waitFor(t, func() bool { // all n pending, one handler waiting to write them
		tl.mu.Lock()
		defer tl.mu.Unlock()
		sum := 0
		for _, l := range tl.pending {
			sum += l.placed
		}
		return sum == n && tl.next
	})
	close(w.gate)
	wg.Wait()
	if got := w.placed["r0"] + w.placed["r1"] + w.placed["r2"]; got != n+1 || w.placed["r1"] != n/3 {
		t.Errorf("written %v, want %d placed, %d on r1", w.placed, n+1, n/3)
	}
	if w.flushes != 2 {
		t.Errorf("%d flushes, want 2 (the first, then one of everything that waited)", w.flushes)
	}
}

// The selector's view counts the jobs placed that a read may not show: not
// yet written, being written, or written after the read began; once a later
// read began, the written ones are the store's to show.
func TestTallyView(t *testing.T) {
	t.Parallel()
	w := &recordedWrites{placed: map[string]int{}, gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	tl := newTally(w.write)
	runners := func() []ci.Runner { return []ci.Runner{{ID: "a", Running: 1}, {ID: "b"}} }
	before := tl.mark()
	done := make(chan struct{})
	go func() { defer close(done); tl.add(t.Context(), "a", load{placed: 2}) }()
	<-w.entered
	if v := tl.view(before, runners()); v[0].Running != 3 || v[1].Running != 0 {
		t.Errorf("while written: %+v, want a 3 (1 stored + 2 in flight), b 0", v)
	}
	close(w.gate)
	<-done
	if v := tl.view(before, runners()); v[0].Running != 3 {
		t.Errorf("written after the read began: a %d, want 3", v[0].Running)
	}
	if v := tl.view(tl.mark(), runners()); v[0].Running != 1 {
		t.Errorf("read after the write: a %d, want the stored 1", v[0].Running)
	}
	tl.add(t.Context(), "b", load{left: 1}) // not gated any more
	if v := tl.view(tl.mark(), runners()); v[1].Running != 0 {
		t.Errorf("a job that left: b %d, want 0 (never below what the store shows)", v[1].Running)
	}
}

// A job being offered holds one slot of its runner in the view from the pick
// until the runner takes it (a placement, counted once) or refuses it; a
// claim that moves takes its slot along.
func TestTallyClaims(t *testing.T) {
	t.Parallel()
	w := &recordedWrites{placed: map[string]int{}}
	tl := newTally(w.write)
	runners := func() []ci.Runner { return []ci.Runner{{ID: "a", Capacity: 2}, {ID: "b", Capacity: 2}} }
	free := func(view []ci.Runner) ([]ci.Runner, string) { // the first runner with room
		for _, r := range view {
			if r.Running < r.Capacity {
				return []ci.Runner{r}, ""
			}
		}
		return nil, "busy"
	}
	before := tl.mark() // the store's runners() never show what the tally wrote
	running := func() (a, b int) { v := tl.view(before, runners()); return v[0].Running, v[1].Running }
	pick := func() ([]ci.Runner, *claim) {
		m := tl.mark()
		m.stored = map[string]int{"a": 0, "b": 0}
		got, _ := free(tl.view(m, runners()))
		return tl.claimFirst(m, got)
	}
	_, c1 := pick()
	_, c2 := pick()
	if c1.id != "a" || c2.id != "a" {
		t.Fatalf("claims on %q and %q, want both on a", c1.id, c2.id)
	}
	got, c3 := pick()
	if got[0].ID != "b" || c3.id != "b" {
		t.Fatalf("third pick %v claims %q, want b: a's slots are claimed", got, c3.id)
	}
	c3.drop()
	c3.drop() // twice changes nothing
	c2.move("b")
	if a, b := running(); a != 1 || b != 1 {
		t.Fatalf("after a drop and a move: a %d b %d, want 1 and 1", a, b)
	}
	tl.took(t.Context(), c1, "a", load{placed: 1, accepted: true})
	c1.drop() // after took: nothing
	if a, b := running(); a != 1 || b != 1 || w.placed["a"] != 1 {
		t.Fatalf("after a took the job: a %d b %d, written %v; want 1, 1 and one placed on a", a, b, w.placed)
	}
	c2.drop()
	m := tl.mark()
	m.stored = map[string]int{"a": 0, "b": 0}
	stale := []ci.Runner{{ID: "a", Capacity: 1}} // picked from a view since filled
	_, c4 := tl.claimFirst(m, stale)             // the job that filled it
	if got, none := tl.claimFirst(m, stale); len(got) != 0 || none.id != "" {
		t.Fatalf("a candidate filled since the pick: %v claimed %q, want none", got, none.id)
	}
	c4.drop()
	if len(tl.claimed) != 0 {
		t.Fatalf("claims left: %v", tl.claimed)
	}
}

// The tally writes a runner's record: placed and left jobs, failures
// lowered by successes, the RPC penalty over on an accept.
func TestTallyAppliesToRecord(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, nil)
	g.runner(t, "a", 2, 8)
	d := g.d
	d.adjustRunner(t.Context(), "a", func(r *ci.Runner) { r.Failures, r.RPCFailedAt = 3, g.clock.Now() })
	d.tally.add(t.Context(), "a", load{placed: 3, accepted: true})
	d.tally.add(t.Context(), "a", jobLeft(ci.StatusSuccess))
	d.tally.add(t.Context(), "a", jobLeft(ci.StatusFailure))
	r := g.getRunner(t, "a")
	if r.Running != 3 || r.Failures != 2 || !r.RPCFailedAt.IsZero() {
		t.Errorf("runner a: running %d failures %d penalty %v; want 3, 2, none", r.Running, r.Failures, r.RPCFailedAt)
	}
}

// waitFor polls cond until it holds, failing after a few seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
	}
}
