package dispatch

import (
	"context"
	"slices"
	"sync"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// registryReads shares one read of the runner registry among the handlers
// that need it while it is under way: under load, dozens of handlers would
// otherwise each read and decode every runner for every job. A handler that
// joins a read gets the registry as of a moment after it asked at the latest
// (the read began before, and ends after), which is as fresh as its own read
// would have been in a queue of reads; the registry is a hint anyway.
type registryReads struct {
	mu   sync.Mutex
	call *registryRead // the read under way, nil when none
}

// registryRead is one shared read: the tally's mark taken before it, and
// its outcome once done is closed.
type registryRead struct {
	done    chan struct{}
	mark    uint64
	runners []ci.Runner
	err     error
}

// listRunners returns the registry and the tally mark taken before it was
// read (for tally.view), from the read under way or a new one. The runners
// are the caller's own copy.
func (d *Dispatcher) listRunners(ctx context.Context) (uint64, []ci.Runner, error) {
	d.reads.mu.Lock()
	c := d.reads.call
	if c == nil {
		c = &registryRead{done: make(chan struct{})}
		d.reads.call = c
		d.reads.mu.Unlock()
		c.mark = d.tally.mark()
		c.runners, c.err = d.store.ListRunners(ctx)
		d.reads.mu.Lock()
		d.reads.call = nil
		d.reads.mu.Unlock()
		close(c.done)
	} else {
		d.reads.mu.Unlock()
		select {
		case <-c.done:
		case <-ctx.Done():
			return 0, nil, context.Cause(ctx)
		}
	}
	return c.mark, slices.Clone(c.runners), c.err
}
