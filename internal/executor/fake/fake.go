// Package fake is a scripted executor.Executor for tests and scale runs: each
// step name gets a scripted sequence of outcomes (exit code, output, delay,
// flags, error); unscripted steps succeed at once. It records every call and
// the highest number of steps it ran at the same time. It is safe for
// concurrent use and serves any number of jobs.
package fake

import (
	"context"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/narwhal-ci/narwhal/internal/executor"
)

// Outcome is what one Run of a step does: write Output, call Hook, wait
// Delay, then return the Result (or Err). The delay ends early when ctx ends
// (the Result is Cancelled) or when the step's Timeout passes (TimedOut).
type Outcome struct {
	Output    []string                  // written in order, one Write each, verbatim
	Hook      func(ctx context.Context) // called after the output, before the delay
	Delay     time.Duration             // how long the step runs
	ExitCode  int
	OOMKilled bool
	TimedOut  bool
	Err       error // returned by Run, with a zero Result
}

// Lines returns lines with a newline after each, for Outcome.Output.
func Lines(lines ...string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l + "\n"
	}
	return out
}

// Op names a call of the Executor interface.
type Op string

// The calls an Executor records.
const (
	OpSetup    Op = "setup"
	OpRun      Op = "run"
	OpTeardown Op = "teardown"
)

// Call is one recorded call.
type Call struct {
	Op    Op
	JobID string
	Step  executor.Step // for OpRun: a copy of the step as given
	// Services are the job's services, for OpSetup.
	Services []executor.Service
}

// Executor is the scripted executor. The zero value is not usable; call New.
type Executor struct {
	mu          sync.Mutex
	outcomes    map[string][]Outcome
	def         Outcome
	setupErr    error
	teardownErr error
	attempts    map[[2]string]int // job ID, step name → Runs so far
	calls       []Call
	running     int
	maxRunning  int
}

var _ executor.Executor = (*Executor)(nil)

// New returns an executor under which every step succeeds at once.
func New() *Executor {
	return &Executor{outcomes: map[string][]Outcome{}, attempts: map[[2]string]int{}}
}

// Script sets the outcomes of the step named step, in every job: the nth Run
// of it in a job uses the nth outcome, and the last repeats.
func (e *Executor) Script(step string, outcomes ...Outcome) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.outcomes[step] = outcomes
}

// Default sets the outcome of unscripted steps (zero: success at once).
func (e *Executor) Default(o Outcome) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.def = o
}

// FailSetup makes every later Setup return err (nil: succeed again).
func (e *Executor) FailSetup(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.setupErr = err
}

// FailTeardown makes every later Teardown return err (nil: succeed again).
func (e *Executor) FailTeardown(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.teardownErr = err
}

// Calls returns the calls made so far, in order.
func (e *Executor) Calls() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}

// Ops returns the calls made so far for job as "setup", "run <step>",
// "teardown".
func (e *Executor) Ops(jobID string) []string {
	var out []string
	for _, c := range e.Calls() {
		if c.JobID != jobID {
			continue
		}
		if c.Op == OpRun {
			out = append(out, "run "+c.Step.Name)
			continue
		}
		out = append(out, string(c.Op))
	}
	return out
}

// MaxConcurrent returns the highest number of Runs in progress at once.
func (e *Executor) MaxConcurrent() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.maxRunning
}

// Setup records the call and returns the error set by FailSetup.
func (e *Executor) Setup(_ context.Context, job *executor.Job) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, Call{Op: OpSetup, JobID: job.ID, Services: slices.Clone(job.Services)})
	return e.setupErr
}

// Teardown records the call and returns the error set by FailTeardown.
func (e *Executor) Teardown(_ context.Context, job *executor.Job) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, Call{Op: OpTeardown, JobID: job.ID})
	return e.teardownErr
}

// Run plays the step's next outcome.
func (e *Executor) Run(ctx context.Context, job *executor.Job, step *executor.Step, out io.Writer) (executor.Result, error) {
	start := time.Now()
	o := e.begin(job.ID, step)
	defer e.end()
	for _, s := range o.Output {
		if _, err := io.WriteString(out, s); err != nil {
			return executor.Result{}, err
		}
	}
	if o.Hook != nil {
		o.Hook(ctx)
	}
	r, err := wait(ctx, o, step.Timeout)
	r.Duration = time.Since(start)
	return r, err
}

// begin records the call and picks the outcome.
func (e *Executor) begin(jobID string, step *executor.Step) Outcome {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := *step
	s.Env = maps.Clone(step.Env)
	s.Commands = slices.Clone(step.Commands)
	e.calls = append(e.calls, Call{Op: OpRun, JobID: jobID, Step: s})
	e.running++
	e.maxRunning = max(e.maxRunning, e.running)
	key := [2]string{jobID, step.Name}
	n := e.attempts[key]
	e.attempts[key] = n + 1
	script, ok := e.outcomes[step.Name]
	if !ok || len(script) == 0 {
		return e.def
	}
	return script[min(n, len(script)-1)]
}

func (e *Executor) end() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.running--
}

// wait runs out the outcome's delay and builds its result.
func wait(ctx context.Context, o Outcome, timeout time.Duration) (executor.Result, error) {
	const killed = 137
	if ctx.Err() != nil {
		return executor.Result{ExitCode: killed, Cancelled: true}, nil
	}
	delay, timedOut := o.Delay, false
	if timeout > 0 && delay > timeout {
		delay, timedOut = timeout, true
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return executor.Result{ExitCode: killed, Cancelled: true}, nil
		case <-t.C:
		}
	}
	if timedOut {
		return executor.Result{ExitCode: killed, TimedOut: true}, nil
	}
	if o.Err != nil {
		return executor.Result{}, o.Err
	}
	return executor.Result{ExitCode: o.ExitCode, OOMKilled: o.OOMKilled, TimedOut: o.TimedOut}, nil
}
