package engine

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor/fake"
)

// TestDoneStepsAreSkippedAndTheirDependentsRun: a job that re-runs from a
// step does not run the steps it was told are done, reports them skipped with
// the reason, and runs the rest as after their success.
func TestDoneStepsAreSkippedAndTheirDependentsRun(t *testing.T) {
	t.Parallel()
	x := fake.New()
	job := Job{Pipeline: pipe(step("build"), step("test"), step("lint", "build")),
		Done: map[string]string{"build": "succeeded in job p1; its workspace was restored"}}
	rep := runJob(t, t.Context(), x, job, nil)
	wantStatuses(t, rep, ci.StatusSuccess, "build=skipped test=success lint=success")
	if s, _ := rep.Step("build"); s.Reason != "succeeded in job p1; its workspace was restored" {
		t.Errorf("build's reason %q", s.Reason)
	}
	for _, c := range x.Calls() {
		if c.Step.Name == "build" {
			t.Error("the done step ran")
		}
	}
}

// TestAfterSuccessComesBeforeDependents: the hook sees each step that
// succeeded, before any of its dependents starts, and never a failed one.
func TestAfterSuccessComesBeforeDependents(t *testing.T) {
	t.Parallel()
	x := fake.New()
	x.Script("lint", fake.Outcome{ExitCode: 1})
	var mu sync.Mutex
	var seen []string
	rec := &recorder{}
	job := Job{Pipeline: pipe(step("build"), step("test"), step("lint", "build")),
		AfterSuccess: func(_ context.Context, s string) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, s)
			rec.add("after " + s)
		}}
	runJob(t, t.Context(), x, job, rec)
	slices.Sort(seen)
	if !slices.Equal(seen, []string{"build", "test"}) {
		t.Errorf("AfterSuccess saw %v, want build and test", seen)
	}
	after, startTest := slices.Index(rec.events, "after build"), slices.Index(rec.events, "start test")
	if after < 0 || startTest < 0 || after > startTest {
		t.Errorf("events %v: the hook of build comes after test started", rec.events)
	}
}
