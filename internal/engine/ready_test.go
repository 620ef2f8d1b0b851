package engine

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor"
	"github.com/narwhal-ci/narwhal/internal/executor/fake"
	"github.com/narwhal-ci/narwhal/internal/pipeline"
)

// TestScheduleIsLinearInSteps runs 4,000 chained no-op steps and 4,000
// independent ones (which MaxParallel holds back) and counts the scheduler's
// decisions: one per step, where a rescanning scheduler made O(steps²)
// readiness checks (4,000 chained steps took minutes of CPU). The time bound
// is only a backstop, far above what the count allows.
func TestScheduleIsLinearInSteps(t *testing.T) {
	t.Parallel()
	const n = 4000
	wide := make([]pipeline.Step, n)
	for i := range wide {
		wide[i] = step(fmt.Sprintf("s%04d", i), none...)
	}
	for name, p := range map[string]*pipeline.Pipeline{"chain": chain(n), "wide": pipe(wide...)} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			r := runDirect(t, p, fake.New())
			if took := time.Since(start); took > 60*time.Second {
				t.Errorf("%d steps took %v", n, took)
			}
			// A held step is decided again only when a slot frees: at most
			// once per finished step.
			if d := r.ready.decisions; d > 2*n {
				t.Errorf("%d decisions for %d steps, want at most %d", d, n, 2*n)
			}
			if st, _ := r.status(t.Context()); st != ci.StatusSuccess {
				t.Errorf("status %s", st)
			}
		})
	}
}

// runDirect schedules p's steps on x without the rest of Engine.Run, so the
// test can read the scheduler's counters.
func runDirect(t *testing.T, p *pipeline.Pipeline, x *fake.Executor) *jobRun {
	t.Helper()
	e := &Engine{Exec: x, MaxParallel: 1}
	if err := check(p); err != nil {
		t.Fatal(err)
	}
	job := &Job{ID: "job1", Pipeline: p, Branch: "main", Event: "push"}
	r := newJobRun(e, job, &executor.Job{ID: job.ID}, &serialObserver{obs: &recorder{}}, e.logger())
	r.schedule(t.Context())
	return r
}

// TestScheduleMatchesRescanning runs random pipelines (dependencies, when
// filters on branch and status, failing steps, allow_failure) one step at a
// time and compares the observer's events with those of the rescanning
// scheduler the engine had before, simulated here.
func TestScheduleMatchesRescanning(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(10, 4))
	for k := range 300 {
		p, fails := randomPipeline(rng, 3+rng.IntN(14))
		x := fake.New()
		for _, name := range fails {
			x.Script(name, fake.Outcome{ExitCode: 1})
		}
		r := runDirect(t, p, x)
		got := r.obs.obs.(*recorder).events
		if want := rescan(p, fails); !slices.Equal(got, want) {
			t.Fatalf("pipeline %d: events\n%s\nwant\n%s\nsteps %+v", k, strings.Join(got, ","), strings.Join(want, ","), p.Steps)
		}
	}
}

// randomPipeline is n steps depending on random others (earlier or later in
// the file, without cycles), with random when filters; fails names the steps
// that exit 1.
func randomPipeline(rng *rand.Rand, n int) (*pipeline.Pipeline, []string) {
	steps := make([]pipeline.Step, n)
	var fails []string
	topo := rng.Perm(n) // step topo[k] may depend only on topo[:k]
	for k, i := range topo {
		s := step(fmt.Sprintf("s%d", i), none...)
		for range rng.IntN(3) {
			if k > 0 {
				if dep := fmt.Sprintf("s%d", topo[rng.IntN(k)]); !slices.Contains(s.DependsOn, dep) {
					s.DependsOn = append(s.DependsOn, dep)
				}
			}
		}
		switch rng.IntN(6) {
		case 0:
			s.When.Status = []string{"always"}
		case 1:
			s.When.Status = []string{"failure"}
		case 2:
			s.When.Branch = []string{"release/*"}
		}
		s.AllowFailure = rng.IntN(4) == 0
		if rng.IntN(4) == 0 {
			fails = append(fails, s.Name)
		}
		steps[i] = s
	}
	return pipe(steps...), fails
}

// rescan simulates the former scheduler with MaxParallel 1: repeated passes
// over every step in file order, deciding each pending step whose
// dependencies are final; the running step finishes when no more can be
// decided.
func rescan(p *pipeline.Pipeline, fails []string) []string {
	status := map[string]string{}
	var events []string
	failed, running := false, ""
	notFinal := func(name string) bool { return status[name] == "" || status[name] == "running" }
	for {
		for changed := true; changed; {
			changed = false
			for _, s := range p.Steps {
				if status[s.Name] != "" || slices.ContainsFunc(s.DependsOn, notFinal) {
					continue
				}
				switch {
				case !s.When.Match(pipeline.Build{Branch: "main", Event: "push"}), !s.When.RunsOn(failed):
					status[s.Name] = "skipped"
					events = append(events, "finish "+s.Name+" skipped")
				case running != "":
					continue
				default:
					status[s.Name], running = "running", s.Name
					events = append(events, "start "+s.Name)
				}
				changed = true
			}
		}
		if running == "" {
			return events
		}
		st := "success"
		if slices.Contains(fails, running) {
			st = "failure"
			failed = failed || !p.Steps[slices.IndexFunc(p.Steps, func(s pipeline.Step) bool { return s.Name == running })].AllowFailure
		}
		status[running] = st
		events = append(events, "finish "+running+" "+st)
		running = ""
	}
}
