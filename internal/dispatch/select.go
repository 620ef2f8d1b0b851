package dispatch

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// Selector chooses the runners that may take a job.
//
// Contract: Pick returns the runners to offer job to, best first, or none and
// a reason for people ("all 3 matching runners busy") that the dispatcher
// records on the waiting job. It must not modify runners and must be safe for
// concurrent use. It sees the registry as the Store has it (Running as of the
// runner's last heartbeat or the last assignment), so its answer is a
// preference, not a promise: a runner may still reject the job.
type Selector interface {
	Pick(job ci.Job, runners []ci.Runner, now time.Time) ([]ci.Runner, string)
}

// LeastLoaded is the default Selector. A runner is a candidate when it is
// healthy (state active and a heartbeat within Lease of now), has every
// label of the job, is not under disk pressure (ci.Runner.DiskPressure), and
// has a free slot (Running < Capacity). Candidates are
// ordered by load (Running/Capacity, lowest first), then by fewer recent
// Failures, then the runner that last ran the job's repository (Affinity)
// first, then by ID, so the order is deterministic. A runner to which a Run
// failed within Penalty (ci.Runner.RPCFailedAt: its heartbeats arrive, its
// RPCs do not) goes after all the others, in the same order among such
// runners. See docs/dispatch.md.
type LeastLoaded struct {
	// Lease is how long a runner counts as alive after its last heartbeat.
	Lease time.Duration
	// Penalty is how long a failed Run sends a runner to the back of the
	// candidates; 0 means never.
	Penalty time.Duration
	// Affinity remembers which runner last ran each repository; nil means
	// no affinity.
	Affinity *Affinity
}

var _ Selector = (*LeastLoaded)(nil)

// Reasons a job waits, as Pick gives them.
const (
	reasonNoRunners = "no runners registered"
	reasonLabels    = "no runner with labels %v"
	reasonOffline   = "all %d matching runners offline or draining"
	reasonBusy      = "all %d matching runners busy"
	reasonDisk      = "all %d matching runners under disk pressure (%s: %s)"
)

// Pick implements Selector.
func (s *LeastLoaded) Pick(job ci.Job, runners []ci.Runner, now time.Time) ([]ci.Runner, string) {
	if len(runners) == 0 {
		return nil, reasonNoRunners
	}
	// One copy of runners, narrowed in place by each rule after the first
	// (a rule that keeps none leaves the slice as it was, for the reason).
	matching := filter(runners, func(r ci.Runner) bool { return hasLabels(r, job.Labels) })
	if len(matching) == 0 {
		return nil, fmt.Sprintf(reasonLabels, job.Labels)
	}
	nMatching := len(matching)
	healthy := narrow(matching, func(r ci.Runner) bool { return s.healthy(r, now) })
	if len(healthy) == 0 {
		return nil, fmt.Sprintf(reasonOffline, nMatching)
	}
	nHealthy := len(healthy)
	roomy := narrow(healthy, func(r ci.Runner) bool { return r.DiskPressure == "" })
	if len(roomy) == 0 {
		return nil, fmt.Sprintf(reasonDisk, nHealthy, healthy[0].ID, healthy[0].DiskPressure)
	}
	nRoomy := len(roomy)
	free := narrow(roomy, func(r ci.Runner) bool { return r.Running < r.Capacity })
	if len(free) == 0 {
		return nil, fmt.Sprintf(reasonBusy, nRoomy)
	}
	return s.order(free, job.Repo, now), ""
}

// order sorts free best first (see LeastLoaded) in place and returns it. It
// sorts positions rather than the runners themselves (a few hundred bytes
// each, copied at every comparison and swap: most of a job's cost with a
// thousand runners), then moves each runner once; penalised runners go last:
// compareRunners is a total order (the ID breaks ties), so one sort with the
// penalty first gives the order of a stable sort by penalty after a sort by
// compareRunners.
func (s *LeastLoaded) order(free []ci.Runner, repo string, now time.Time) []ci.Runner {
	last := s.Affinity.Last(repo)
	penalised := make([]bool, len(free))
	pos := make([]int, len(free))
	for i := range free {
		penalised[i], pos[i] = s.penalised(free[i], now), i
	}
	slices.SortFunc(pos, func(i, j int) int {
		if c := cmp.Compare(b2i(penalised[i]), b2i(penalised[j])); c != 0 {
			return c
		}
		return compareRunners(&free[i], &free[j], last)
	})
	// Apply the permutation in place, one cycle at a time: slot k receives
	// the runner at pos[k].
	for k := range pos {
		if pos[k] == k {
			continue
		}
		tmp, j := free[k], k
		for pos[j] != k {
			next := pos[j]
			free[j], pos[j] = free[next], j
			j = next
		}
		free[j], pos[j] = tmp, j
	}
	return free
}

// penalised: a Run to r failed less than Penalty ago.
func (s *LeastLoaded) penalised(r ci.Runner, now time.Time) bool {
	return !r.RPCFailedAt.IsZero() && now.Sub(r.RPCFailedAt) < s.Penalty
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// healthy: active, and heard from within the lease.
func (s *LeastLoaded) healthy(r ci.Runner, now time.Time) bool {
	return r.State == ci.RunnerActive && now.Sub(r.LastHeartbeat) <= s.Lease
}

// Ran records that runnerID accepted a job of repo, for affinity.
func (s *LeastLoaded) Ran(repo, runnerID string) { s.Affinity.Record(repo, runnerID) }

// compareRunners orders free runners: load, failures, affinity, ID.
func compareRunners(a, b *ci.Runner, last string) int {
	// a.Running/a.Capacity vs b.Running/b.Capacity without division (both
	// capacities are positive for free runners).
	if c := cmp.Compare(a.Running*b.Capacity, b.Running*a.Capacity); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Failures, b.Failures); c != 0 {
		return c
	}
	if a.ID == last || b.ID == last {
		if a.ID == last {
			return -1
		}
		return 1
	}
	return cmp.Compare(a.ID, b.ID)
}

// hasLabels reports whether r has every one of labels.
func hasLabels(r ci.Runner, labels []string) bool {
	for _, l := range labels {
		if !slices.Contains(r.Labels, l) {
			return false
		}
	}
	return true
}

// filter returns the runners that keep accepts, in a new slice (of room for
// all of them: growing it by appends was half of a dispatch's allocations).
func filter(runners []ci.Runner, keep func(ci.Runner) bool) []ci.Runner {
	out := make([]ci.Runner, 0, len(runners))
	for _, r := range runners {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// narrow keeps in place the runners of rs that keep accepts and returns
// them; when it keeps none, rs is unchanged.
func narrow(rs []ci.Runner, keep func(ci.Runner) bool) []ci.Runner {
	out := rs[:0]
	for _, r := range rs {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}
