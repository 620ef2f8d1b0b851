package dispatch

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// Pick's one sort of positions, applied in place, orders a large random
// fleet exactly as the two sorts it replaced (by compareRunners, then stably
// by penalty), and leaves the caller's runners untouched.
func TestPickOrderMatchesTwoSorts(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	s := &LeastLoaded{Lease: DefaultLease, Penalty: time.Minute, Affinity: NewAffinity(0)}
	for round := range 50 {
		var runners []ci.Runner
		for i := range 1 + rng.IntN(300) {
			r := rn(fmt.Sprintf("r%03d", i), rng.IntN(4), 4)
			r.Failures = rng.IntN(3)
			if rng.IntN(5) == 0 {
				r.RPCFailedAt = t0.Add(-time.Duration(rng.IntN(120)) * time.Second)
			}
			runners = append(runners, r)
		}
		rng.Shuffle(len(runners), func(i, j int) { runners[i], runners[j] = runners[j], runners[i] })
		last := fmt.Sprintf("r%03d", rng.IntN(len(runners)))
		s.Affinity.Record("acme/app", last)
		given := slices.Clone(runners)

		got, _ := s.Pick(ci.Job{ID: "j", Repo: "acme/app"}, runners, t0)

		want := slices.DeleteFunc(slices.Clone(runners), func(r ci.Runner) bool { return r.Running >= r.Capacity })
		slices.SortFunc(want, func(a, b ci.Runner) int { return compareRunners(&a, &b, last) })
		slices.SortStableFunc(want, func(a, b ci.Runner) int {
			return cmp.Compare(b2i(s.penalised(a, t0)), b2i(s.penalised(b, t0)))
		})
		ids := func(rs []ci.Runner) []string {
			out := make([]string, len(rs))
			for i, r := range rs {
				out[i] = r.ID
			}
			return out
		}
		if !slices.Equal(ids(got), ids(want)) {
			t.Fatalf("round %d: order\n got %v\nwant %v", round, ids(got), ids(want))
		}
		if !slices.EqualFunc(runners, given, func(a, b ci.Runner) bool { return a.ID == b.ID && a.Running == b.Running }) {
			t.Fatalf("round %d: Pick changed the caller's runners", round)
		}
	}
}
