package dispatch

import (
	"sync"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// statusOrder keeps one process's commit statuses of a job in the order of
// the job's life. Two handlers may report one job at once (HandleJob's
// "assigned" after Run returned, HandleEvent's "running" from the runner
// that already started it); each report holds its job's slot, and one whose
// state is behind what was already reported for the attempt is skipped. It
// remembers at most maxTracked jobs (a job's entry goes when its final state
// is reported), so a process that never sees the end of some jobs forgets
// them rather than grows.
type statusOrder struct {
	mu   sync.Mutex
	jobs map[string]*statusSlot
}

const maxTracked = 4096

// statusSlot is the last report of one job.
type statusSlot struct {
	mu      sync.Mutex
	attempt int
	rank    int
}

// lock returns j's slot, locked; the caller unlocks it after reporting.
func (o *statusOrder) lock(id string) *statusSlot {
	o.mu.Lock()
	if o.jobs == nil || len(o.jobs) >= maxTracked {
		o.jobs = map[string]*statusSlot{}
	}
	s := o.jobs[id]
	if s == nil {
		s = &statusSlot{rank: -1}
		o.jobs[id] = s
	}
	o.mu.Unlock()
	s.mu.Lock()
	return s
}

// forget drops a job whose final state was reported.
func (o *statusOrder) forget(id string) {
	o.mu.Lock()
	delete(o.jobs, id)
	o.mu.Unlock()
}

// behind reports whether j's state comes before what s last reported, and
// records j's otherwise.
func (s *statusSlot) behind(j ci.Job) bool {
	r := statusRank(j.Status)
	if j.Attempt < s.attempt || (j.Attempt == s.attempt && r < s.rank) {
		return true
	}
	s.attempt, s.rank = j.Attempt, r
	return false
}

// statusRank orders the states a commit status shows.
func statusRank(st ci.Status) int {
	switch st {
	case ci.StatusQueued:
		return 0
	case ci.StatusAssigned:
		return 1
	case ci.StatusRunning:
		return 2
	}
	return 3
}
