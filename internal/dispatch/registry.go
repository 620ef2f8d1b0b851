package dispatch

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// DefaultRegistryTTL is Config.RegistryTTL when it is zero.
const DefaultRegistryTTL = 250 * time.Millisecond

// registryReads keeps the runner registry that the handlers place jobs from.
// Reading and decoding every runner for every job was most of a job's cost
// with a large fleet, so a read serves the jobs of the next
// Config.RegistryTTL (measured on the monotonic clock, whatever Deps.Now
// says), and a read under way is shared by every handler that needs one
// meanwhile.
//
// What the copy kept cannot show is made up for:
//   - the jobs this dispatcher placed since the read (every one, not only
//     those of the last few flushes) are added by tally.view, so a cached
//     registry does not crowd a runner it shows free;
//   - what this dispatcher itself learns drops the copy at once (forget): a
//     runner's register or heartbeat, a failed Run (its penalty), a drain;
//   - a job that the copy finds no candidate for asks again with a read of
//     its own (fresh) before it waits, so a runner that registered through
//     another dispatcher instance (or straight in the store) is not missed
//     by a job that would otherwise wait for it.
//
// What stays is what a fresh read has too: the registry is a hint (a runner
// that went away or filled up since refuses, or its Run fails, and the next
// candidate is tried).
type registryReads struct {
	mu    sync.Mutex
	call  *registryRead // the read under way, nil when none
	last  *registryRead // the last read that ended well, nil when forgotten
	epoch uint64        // raised by forget: a read begun before may not be kept
}

// registryRead is one shared read: the tally's mark taken before it, when it
// began, and its outcome once done is closed.
type registryRead struct {
	done    chan struct{}
	mark    tallyMark
	began   time.Time
	epoch   uint64
	runners []ci.Runner
	err     error
}

// listRunners returns the registry and the tally mark taken before it was
// read (for tally.view): the kept read while it is younger than
// Config.RegistryTTL (unless fresh; kept says so), else the read under way,
// else a new one. The runners are the caller's own copy.
func (d *Dispatcher) listRunners(ctx context.Context, fresh bool) (m tallyMark, runners []ci.Runner, kept bool, err error) {
	d.reads.mu.Lock()
	if c := d.reads.last; !fresh && c != nil && time.Since(c.began) < d.cfg.RegistryTTL {
		d.reads.mu.Unlock()
		return c.mark, slices.Clone(c.runners), true, nil
	}
	c := d.reads.call
	if c == nil {
		c = &registryRead{done: make(chan struct{}), epoch: d.reads.epoch}
		d.reads.call = c
		d.reads.mu.Unlock()
		c.mark = d.tally.mark()
		c.began = time.Now()
		c.runners, c.err = d.store.ListRunners(ctx)
		c.mark.stored = storedRunning(c.runners)
		d.reads.mu.Lock()
		d.reads.call = nil
		if c.err == nil && c.epoch == d.reads.epoch && d.cfg.RegistryTTL > 0 {
			d.reads.last = c
		}
		d.reads.mu.Unlock()
		close(c.done)
	} else {
		d.reads.mu.Unlock()
		select {
		case <-c.done:
		case <-ctx.Done():
			return tallyMark{}, nil, false, context.Cause(ctx)
		}
	}
	return c.mark, slices.Clone(c.runners), false, c.err
}

// forgetRunners drops the kept registry: this dispatcher changed or learned
// something of a runner that the next job must see.
func (d *Dispatcher) forgetRunners() {
	d.reads.mu.Lock()
	d.reads.last = nil
	d.reads.epoch++
	d.reads.mu.Unlock()
}

// storedRunning is the Running of each of runners, by ID, as read.
func storedRunning(runners []ci.Runner) map[string]int {
	m := make(map[string]int, len(runners))
	for _, r := range runners {
		m[r.ID] = r.Running
	}
	return m
}
