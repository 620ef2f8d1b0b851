package dispatch

import (
	"slices"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

var t0 = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

// rn is a healthy active runner with running/capacity slots and labels.
func rn(id string, running, capacity int, labels ...string) ci.Runner {
	return ci.Runner{ID: id, Address: id + ":7070", Running: running, Capacity: capacity,
		Labels: labels, State: ci.RunnerActive, LastHeartbeat: t0.Add(-10 * time.Second)}
}

func with(r ci.Runner, edit func(*ci.Runner)) ci.Runner { edit(&r); return r }

func TestPick(t *testing.T) {
	t.Parallel()
	job := ci.Job{ID: "j", Repo: "acme/app"}
	gpu := ci.Job{ID: "j", Repo: "acme/app", Labels: []string{"gpu"}}
	affine := NewAffinity(0)
	affine.Record("acme/app", "c")
	tests := []struct {
		name     string
		job      ci.Job
		runners  []ci.Runner
		affinity *Affinity
		want     []string
		reason   string
	}{
		{name: "no runners", job: job, reason: "no runners registered"},
		{name: "labels missing", job: gpu, runners: []ci.Runner{rn("a", 0, 2, "linux"), rn("b", 0, 2)},
			reason: "no runner with labels [gpu]"},
		{name: "labels are a subset", job: ci.Job{Labels: []string{"gpu", "linux"}},
			runners: []ci.Runner{rn("a", 0, 2, "gpu"), rn("b", 1, 2, "linux", "gpu", "big")}, want: []string{"b"}},
		{name: "no labels take any runner", job: job, runners: []ci.Runner{rn("a", 0, 1, "gpu")}, want: []string{"a"}},
		{name: "all busy", job: job, runners: []ci.Runner{rn("a", 2, 2), rn("b", 1, 1), rn("c", 3, 3)},
			reason: "all 3 matching runners busy"},
		{name: "zero capacity is busy", job: job, runners: []ci.Runner{rn("a", 0, 0)}, reason: "all 1 matching runners busy"},
		{name: "offline or draining", job: job, runners: []ci.Runner{
			with(rn("a", 0, 2), func(r *ci.Runner) { r.State = ci.RunnerDraining }),
			with(rn("b", 0, 2), func(r *ci.Runner) { r.State = ci.RunnerOffline })},
			reason: "all 2 matching runners offline or draining"},
		{name: "silent past the lease", job: job, runners: []ci.Runner{
			with(rn("a", 0, 2), func(r *ci.Runner) { r.LastHeartbeat = t0.Add(-46 * time.Second) })},
			reason: "all 1 matching runners offline or draining"},
		{name: "heartbeat exactly at the lease counts", job: job, runners: []ci.Runner{
			with(rn("a", 0, 2), func(r *ci.Runner) { r.LastHeartbeat = t0.Add(-45 * time.Second) })},
			want: []string{"a"}},
		{name: "only healthy runners with free slots", job: job, runners: []ci.Runner{
			rn("a", 2, 2), with(rn("b", 0, 2), func(r *ci.Runner) { r.State = ci.RunnerDraining }), rn("c", 1, 2)},
			want: []string{"c"}},
		{name: "disk pressure passes a runner over", job: job, runners: []ci.Runner{
			with(rn("a", 0, 2), func(r *ci.Runner) { r.DiskPressure = "disk 91% full" }), rn("b", 1, 2)},
			want: []string{"b"}},
		{name: "all under disk pressure", job: job, runners: []ci.Runner{
			with(rn("a", 0, 2), func(r *ci.Runner) { r.DiskPressure = "/work 91% full, above the 85% high watermark" })},
			reason: "all 1 matching runners under disk pressure (a: /work 91% full, above the 85% high watermark)"},
		{name: "lowest load first", job: job, runners: []ci.Runner{rn("a", 3, 4), rn("b", 1, 4), rn("c", 1, 2)},
			want: []string{"b", "c", "a"}},
		{name: "load is relative to capacity", job: job, runners: []ci.Runner{rn("a", 1, 2), rn("b", 2, 8)},
			want: []string{"b", "a"}},
		{name: "fewer failures break ties", job: job, runners: []ci.Runner{
			with(rn("a", 1, 2), func(r *ci.Runner) { r.Failures = 2 }), rn("b", 2, 4)},
			want: []string{"b", "a"}},
		{name: "affinity breaks ties after failures", job: job, affinity: affine, runners: []ci.Runner{
			rn("a", 0, 2), rn("b", 0, 2), rn("c", 0, 2), with(rn("d", 0, 2), func(r *ci.Runner) { r.Failures = 1 })},
			want: []string{"c", "a", "b", "d"}},
		{name: "affinity never beats load", job: job, affinity: affine, runners: []ci.Runner{rn("a", 0, 2), rn("c", 1, 2)},
			want: []string{"a", "c"}},
		{name: "affinity is per repository", job: ci.Job{Repo: "acme/other"}, affinity: affine,
			runners: []ci.Runner{rn("c", 0, 2), rn("a", 0, 2)}, want: []string{"a", "c"}},
		{name: "then by ID", job: job, runners: []ci.Runner{rn("z", 0, 2), rn("m", 0, 2), rn("a", 0, 2)},
			want: []string{"a", "m", "z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &LeastLoaded{Lease: DefaultLease, Affinity: tt.affinity}
			before := slices.Clone(tt.runners)
			got, reason := s.Pick(tt.job, tt.runners, t0)
			var ids []string
			for _, r := range got {
				ids = append(ids, r.ID)
			}
			if !slices.Equal(ids, tt.want) || reason != tt.reason {
				t.Errorf("Pick = %v, %q; want %v, %q", ids, reason, tt.want, tt.reason)
			}
			if len(got) > 0 && reason != "" {
				t.Errorf("candidates and a reason at once")
			}
			for i := range before {
				if before[i].ID != tt.runners[i].ID {
					t.Fatalf("Pick reordered its input")
				}
			}
		})
	}
}

func TestAffinityBounded(t *testing.T) {
	t.Parallel()
	a := NewAffinity(2)
	a.Record("r1", "a")
	a.Record("r2", "b")
	a.Record("r1", "c") // refreshes r1
	a.Record("r3", "d") // evicts r2, the least recently recorded
	if got := []string{a.Last("r1"), a.Last("r2"), a.Last("r3")}; !slices.Equal(got, []string{"c", "", "d"}) {
		t.Fatalf("Last = %v, want [c  d]", got)
	}
	var none *Affinity
	none.Record("r1", "a")
	if none.Last("r1") != "" {
		t.Fatal("a nil Affinity remembered something")
	}
}
