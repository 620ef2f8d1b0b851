package engine

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor/fake"
	"github.com/narwhal-ci/narwhal/internal/pipeline"
)

func TestStepTimeout(t *testing.T) {
	t.Parallel()
	x := fake.New()
	x.Script("slow", fake.Outcome{Delay: time.Hour})
	slow := step("slow")
	slow.Timeout = 20 * time.Millisecond
	rep := runJob(t, t.Context(), x, Job{Pipeline: pipe(slow, step("next"))}, nil)
	wantStatuses(t, rep, ci.StatusFailure, "slow=failure next=skipped")
	s, _ := rep.Step("slow")
	if !s.TimedOut || s.Reason != "timed out after 20ms" {
		t.Fatalf("slow = %+v", s)
	}
	if got := x.Calls()[1].Step.Timeout; got != slow.Timeout {
		t.Fatalf("executor got timeout %v", got)
	}
}

func TestJobTimeout(t *testing.T) {
	t.Parallel()
	x := fake.New()
	x.Script("slow", fake.Outcome{Delay: time.Hour})
	p := pipe(step("a"), step("slow"), step("after"))
	p.Timeout = 50 * time.Millisecond
	rep := runJob(t, t.Context(), x, Job{Pipeline: p}, nil)
	wantStatuses(t, rep, ci.StatusError, "a=success slow=cancelled after=cancelled")
	if rep.Error != "timed out after 50ms" {
		t.Fatalf("error %q", rep.Error)
	}
	wantOps(t, x, "setup", "run a", "run slow", "teardown")
}

func TestCancellationMidStep(t *testing.T) {
	t.Parallel()
	x := fake.New()
	ctx, cancel := context.WithCancelCause(t.Context())
	x.Script("b", fake.Outcome{Delay: time.Hour, Hook: func(context.Context) { cancel(errors.New("cancelled by alice")) }})
	x.Script("c", fake.Outcome{Delay: time.Hour})
	always := step("cleanup")
	always.When.Status = []string{"always"}
	p := pipe(step("a"), step("b"), step("c", "a"), step("d", "b"), always)
	rep := runJob(t, ctx, x, Job{Pipeline: p}, nil)
	wantStatuses(t, rep, ci.StatusCancelled, "a=success b=cancelled c=cancelled d=cancelled cleanup=cancelled")
	if rep.Error != "cancelled by alice" {
		t.Fatalf("error %q", rep.Error)
	}
	if ops := x.Ops("job1"); ops[len(ops)-1] != "teardown" || slices.Contains(ops, "run d") {
		t.Fatalf("executor calls %v", ops)
	}
}

func TestSetupFailure(t *testing.T) {
	t.Parallel()
	x := fake.New()
	x.FailSetup(errors.New("no daemon"))
	rep := runJob(t, t.Context(), x, Job{Pipeline: pipe(step("a"), step("b"))}, nil)
	wantStatuses(t, rep, ci.StatusError, "a=cancelled b=cancelled")
	if rep.Error != "setup: no daemon" {
		t.Fatalf("error %q", rep.Error)
	}
	wantOps(t, x, "setup", "teardown")
}

func TestTeardownErrorComesAfterTheReport(t *testing.T) {
	t.Parallel()
	x := fake.New()
	x.FailTeardown(errors.New("network busy"))
	obs := &recorder{}
	rep, err := (&Engine{Exec: x}).Run(t.Context(), Job{ID: "job1", Pipeline: pipe(step("a"))}, obs)
	if err == nil || !strings.Contains(err.Error(), "network busy") {
		t.Fatalf("err = %v, want the teardown error", err)
	}
	if rep.Status != ci.StatusSuccess || obs.report == nil || obs.report.Status != ci.StatusSuccess {
		t.Fatalf("report %+v, observed %+v", rep, obs.report)
	}
}

func TestMissingSecret(t *testing.T) {
	t.Parallel()
	x := fake.New()
	deploy := step("deploy")
	deploy.Secrets = []string{"TOKEN"}
	obs := &recorder{}
	rep := runJob(t, t.Context(), x, Job{Pipeline: pipe(step("build"), deploy, step("after"))}, obs)
	wantStatuses(t, rep, ci.StatusError, "build=success deploy=failure after=skipped")
	if rep.Error != "step deploy: secret TOKEN does not exist" {
		t.Fatalf("error %q", rep.Error)
	}
	wantOps(t, x, "setup", "run build", "teardown")
	if got := obs.log("deploy"); !slices.Equal(got, []string{"[narwhal] secret TOKEN does not exist"}) {
		t.Fatalf("log %q", got)
	}
}

func TestExecutorErrorIsAJobError(t *testing.T) {
	t.Parallel()
	x := fake.New()
	x.Script("a", fake.Outcome{Err: errors.New("pull img: not found")})
	rep := runJob(t, t.Context(), x, Job{Pipeline: pipe(step("a"), step("b"))}, nil)
	wantStatuses(t, rep, ci.StatusError, "a=failure b=skipped")
	if rep.Error != "step a: pull img: not found" {
		t.Fatalf("error %q", rep.Error)
	}
}

func TestInvalidPipeline(t *testing.T) {
	t.Parallel()
	x := fake.New()
	for name, p := range map[string]*pipeline.Pipeline{
		"nil":     nil,
		"cycle":   pipe(step("a", "b"), step("b", "a")),
		"unknown": pipe(step("a", "nope")),
		"dup":     pipe(step("a"), step("a", none...)),
	} {
		rep, err := (&Engine{Exec: x}).Run(t.Context(), Job{ID: "job1", Pipeline: p}, nil)
		if err == nil || rep.Status != ci.StatusError {
			t.Errorf("%s: status %s, err %v; want an error", name, rep.Status, err)
		}
	}
	wantOps(t, x)
}
