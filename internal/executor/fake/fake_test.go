package fake

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/executor"
)

func run(t *testing.T, e *Executor, ctx context.Context, job string, step executor.Step) (executor.Result, string, error) {
	t.Helper()
	var out strings.Builder
	r, err := e.Run(ctx, &executor.Job{ID: job}, &step, &out)
	return r, out.String(), err
}

func TestScriptedOutcomesPerJob(t *testing.T) {
	t.Parallel()
	e := New()
	e.Script("build", Outcome{ExitCode: 1, Output: Lines("first")}, Outcome{Output: []string{"sec", "ond\n"}})
	for _, job := range []string{"j1", "j2"} {
		r, out, err := run(t, e, t.Context(), job, executor.Step{Name: "build"})
		if err != nil || r.ExitCode != 1 || out != "first\n" {
			t.Fatalf("%s run 1: %+v %q %v", job, r, out, err)
		}
		for range 2 { // the last outcome repeats
			r, out, err = run(t, e, t.Context(), job, executor.Step{Name: "build"})
			if err != nil || r.ExitCode != 0 || out != "second\n" {
				t.Fatalf("%s later run: %+v %q %v", job, r, out, err)
			}
		}
	}
	if r, out, err := run(t, e, t.Context(), "j1", executor.Step{Name: "other"}); err != nil || r != (executor.Result{Duration: r.Duration}) || out != "" {
		t.Fatalf("unscripted step: %+v %q %v", r, out, err)
	}
}

func TestFlagsAndErrors(t *testing.T) {
	t.Parallel()
	e := New()
	boom := errors.New("boom")
	e.Script("oom", Outcome{ExitCode: 137, OOMKilled: true})
	e.Script("err", Outcome{Err: boom})
	e.Script("slow", Outcome{Delay: time.Hour})
	if r, _, _ := run(t, e, t.Context(), "j", executor.Step{Name: "oom"}); !r.OOMKilled || r.ExitCode != 137 {
		t.Fatalf("oom: %+v", r)
	}
	if _, _, err := run(t, e, t.Context(), "j", executor.Step{Name: "err"}); !errors.Is(err, boom) {
		t.Fatalf("err: %v", err)
	}
	if r, _, _ := run(t, e, t.Context(), "j", executor.Step{Name: "slow", Timeout: time.Millisecond}); !r.TimedOut || r.Cancelled {
		t.Fatalf("timeout: %+v", r)
	}
}

func TestCancelDuringDelay(t *testing.T) {
	t.Parallel()
	e := New()
	ctx, cancel := context.WithCancel(t.Context())
	e.Script("slow", Outcome{Delay: time.Hour, Hook: func(context.Context) { cancel() }})
	r, _, err := run(t, e, ctx, "j", executor.Step{Name: "slow"})
	if err != nil || !r.Cancelled {
		t.Fatalf("got %+v, %v; want Cancelled", r, err)
	}
}

func TestRecordsCallsAndConcurrency(t *testing.T) {
	t.Parallel()
	e := New()
	pair := make(chan struct{})
	e.Default(Outcome{Hook: func(ctx context.Context) { // two runs meet here
		select {
		case pair <- struct{}{}:
		case <-pair:
		case <-ctx.Done():
		}
	}})
	e.FailTeardown(errors.New("stuck"))
	if err := e.Setup(t.Context(), &executor.Job{ID: "j"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, s := range []string{"a", "b"} {
		wg.Go(func() { run(t, e, t.Context(), "j", executor.Step{Name: s, Env: map[string]string{"K": s}}) })
	}
	wg.Wait()
	if err := e.Teardown(t.Context(), &executor.Job{ID: "j"}); err == nil {
		t.Fatal("Teardown: want the scripted error")
	}
	if got := e.MaxConcurrent(); got != 2 {
		t.Fatalf("MaxConcurrent = %d, want 2", got)
	}
	ops := e.Ops("j")
	if len(ops) != 4 || ops[0] != "setup" || ops[3] != "teardown" {
		t.Fatalf("ops = %v", ops)
	}
	for _, c := range e.Calls() {
		if c.Op == OpRun && c.Step.Env["K"] != c.Step.Name {
			t.Fatalf("recorded step %+v", c.Step)
		}
	}
}
