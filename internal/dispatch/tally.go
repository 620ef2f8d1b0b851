package dispatch

import (
	"context"
	"maps"
	"sync"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// tally is the group commit of the runner registry's load. Each accepted Run
// (one more job on the runner, its RPC penalty over) and each job that left a
// runner (one fewer; on success one failure fewer) changes the runner's
// record. Instead of a read and a write of the record per job, the changes
// made while one flush writes are summed per runner and written together by
// the next flush: one read and one write per runner per flush, the writes of
// one flush concurrent so that the store commits them together.
//
// Who writes: the handler whose change finds no flush under way flushes at
// once; the first whose change finds one under way waits for it and flushes
// next; every other handler returns at once, its change in the flush of that
// waiting handler. So a change is written before the last handler that made
// one returns (a Lambda invocation leaves nothing behind), and no handler
// writes more than one flush.
//
// Until it is written, a change is still part of the selector's input: view
// adds to the runners read from the store the jobs this dispatcher placed
// that the read may not show, so that concurrent handlers do not over-commit
// a runner the store still shows free. It adds the jobs being offered too
// (claims): from the moment the selector picks a runner for a job until the
// runner took it (a placement from then on) or refused it, the job holds one
// of the runner's slots, so that a burst of jobs does not offer a runner more
// than it has room for, each paying for its grant (a secret store read, a
// clone token), an assign and an unassign write and an RPC only to hear
// "runner full". A read may be kept for a while
// (registryReads), so the jobs written since are counted by runner from a
// running total, however many flushes there were. Jobs that left are not counted before
// they are written (a slot freed a moment late, never one too many). Other
// dispatchers' accepts are in the store once written; the runner itself
// refuses a job beyond its capacity.
type tally struct {
	write func(ctx context.Context, changes map[string]load) // writes one flush

	mu       sync.Mutex
	cond     *sync.Cond      // signalled when a flush ends
	pending  map[string]load // for the next flush
	inflight map[string]load // being written
	flushing bool
	next     bool           // a handler waits to write the next flush
	written  map[string]int // jobs placed on each runner by the flushes written
	claimed  map[string]int // jobs being offered to each runner (claims)
}

// claim is one job's hold on a slot of the runner it is being offered to.
type claim struct {
	t  *tally
	id string // the runner; "" once dropped or taken
}

// load is the change of one runner's record.
type load struct {
	placed, left int  // jobs placed on it, jobs that left it
	succeeded    int  // of those that left, how many succeeded
	accepted     bool // it accepted a Run: the RPC penalty is over
}

// tallyMark is what view needs of the tally as it was when a read of the
// registry began: the jobs placed on each runner that flushes had written;
// and, once the read is done, the Running of each runner it read (for
// claimFirst).
type tallyMark struct {
	written map[string]int
	stored  map[string]int
}

func newTally(write func(context.Context, map[string]load)) *tally {
	t := &tally{write: write, pending: map[string]load{}, written: map[string]int{}, claimed: map[string]int{}}
	t.cond = sync.NewCond(&t.mu)
	return t
}

func (l load) plus(o load) load {
	return load{placed: l.placed + o.placed, left: l.left + o.left, succeeded: l.succeeded + o.succeeded,
		accepted: l.accepted || o.accepted}
}

// apply changes a runner's record by l.
func (l load) apply(r *ci.Runner) {
	r.Running = max(r.Running+l.placed-l.left, 0)
	r.Failures = max(r.Failures-l.succeeded, 0)
	if l.accepted {
		r.RPCFailedAt = ci.Runner{}.RPCFailedAt
	}
}

// add records change c of runner id, and writes the pending changes when
// it is this handler's turn (see tally).
func (t *tally) add(ctx context.Context, id string, c load) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pending[id] = t.pending[id].plus(c)
	t.turn(ctx)
}

// claimFirst claims a slot of the first of candidates (picked from a view of
// the read marked m) that still has one: jobs claimed or placed on a runner
// since the view was taken may have filled it. It returns the candidates from
// that one on, and the claim (holding nothing when none has room).
func (t *tally) claimFirst(m tallyMark, candidates []ci.Runner) ([]ci.Runner, *claim) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := &claim{t: t}
	for i, r := range candidates {
		stored, ok := m.stored[r.ID]
		if ok && stored+t.addedLocked(m, r.ID) >= r.Capacity {
			continue
		}
		c.id = r.ID
		t.claimed[r.ID]++
		return candidates[i:], c
	}
	return nil, c
}

// move moves the claim to runner id, the job's next candidate.
func (c *claim) move(id string) {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	c.dropLocked()
	c.t.claimed[id]++
	c.id = id
}

// drop gives the slot back: the runner refused the job, or it was never
// offered. Dropping a claim dropped or taken already does nothing.
func (c *claim) drop() {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	c.dropLocked()
}

func (c *claim) dropLocked() {
	if c.id == "" {
		return
	}
	if c.t.claimed[c.id]--; c.t.claimed[c.id] <= 0 {
		delete(c.t.claimed, c.id)
	}
	c.id = ""
}

// took turns claim c into change l of runner id, which took the job, in one
// step, so that view never counts the job twice or not at all.
func (t *tally) took(ctx context.Context, c *claim, id string, l load) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c.dropLocked()
	t.pending[id] = t.pending[id].plus(l)
	t.turn(ctx)
}

// turn writes the pending changes when it is this handler's turn; t.mu is
// held.
func (t *tally) turn(ctx context.Context) {
	switch {
	case !t.flushing:
	case t.next:
		return // the waiting handler writes this change
	default:
		t.next = true
		for t.flushing {
			t.cond.Wait()
		}
		t.next = false
	}
	t.flush(ctx)
}

// flush writes every pending change; t.mu is held, and released meanwhile.
func (t *tally) flush(ctx context.Context) {
	if len(t.pending) == 0 {
		return
	}
	batch := t.pending
	t.pending, t.inflight, t.flushing = map[string]load{}, batch, true
	t.mu.Unlock()
	t.write(context.WithoutCancel(ctx), batch)
	t.mu.Lock()
	for id, l := range batch {
		if l.placed != 0 {
			t.written[id] += l.placed
		}
	}
	t.inflight, t.flushing = nil, false
	t.cond.Broadcast()
}

// mark is taken before reading the runners from the store, for view. It
// copies a number per runner this dispatcher placed a job on; reads are few.
func (t *tally) mark() tallyMark {
	t.mu.Lock()
	defer t.mu.Unlock()
	return tallyMark{written: maps.Clone(t.written)}
}

// view adds to runners, read from the store after mark returned m, the jobs
// placed on them that the read may miss: those not written yet and those
// written by flushes that ended after m (they may have committed after the
// read); and the jobs being offered to them (claims). It changes runners in
// place and returns them.
func (t *tally) view(m tallyMark, runners []ci.Runner) []ci.Runner {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range runners {
		runners[i].Running += t.addedLocked(m, runners[i].ID)
	}
	return runners
}

// addedLocked is what view adds to the Running of runner id; t.mu is held.
func (t *tally) addedLocked(m tallyMark, id string) int {
	n := t.pending[id].placed + t.inflight[id].placed + t.written[id] - m.written[id]
	return max(n, 0) + t.claimed[id]
}

// writeLoad is the tally's write: each runner's change, concurrently.
func (d *Dispatcher) writeLoad(ctx context.Context, changes map[string]load) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.RPCTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for id, l := range changes {
		wg.Go(func() { d.adjustRunner(ctx, id, l.apply) })
	}
	wg.Wait()
}
