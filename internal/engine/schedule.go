package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor"
	"github.com/narwhal-ci/narwhal/internal/logsink"
)

// jobRun is the state of one job while its steps run. Only the goroutine
// that calls schedule touches it; step goroutines report over done.
type jobRun struct {
	e        *Engine
	job      *Job
	xjob     *executor.Job
	obs      *serialObserver
	log      *slog.Logger
	sink     *logsink.Sink
	steps    []StepResult // file order
	ready    *readyQueue
	failed   bool // a step failed without allow_failure
	running  int
	done     chan stepDone
	setupErr error
}

// stepDone is a finished step, sent by its goroutine.
type stepDone struct {
	i int
	r StepResult
}

func newJobRun(e *Engine, job *Job, xjob *executor.Job, o *serialObserver, log *slog.Logger) *jobRun {
	secrets := append(slices.Collect(maps.Values(job.Secrets)), job.Masked...)
	return &jobRun{
		e: e, job: job, xjob: xjob, obs: o, log: log,
		sink:  logsink.New(e.LogLimit, secrets, o.Log),
		steps: stepsWith(job.Pipeline, StepPending, ""),
		ready: newReadyQueue(job.Pipeline),
		done:  make(chan stepDone),
	}
}

// schedule runs the step graph to the end: every step is final on return.
// Steps whose dependencies are all final are decided in file order; running
// steps end on their own or when ctx ends (the executor's contract).
func (r *jobRun) schedule(ctx context.Context) {
	for {
		r.startReady(ctx)
		if r.running == 0 {
			return
		}
		d := <-r.done
		r.running--
		if (d.r.Status == StepSuccess || d.r.AllowedFailure) && r.job.AfterSuccess != nil && ctx.Err() == nil {
			r.job.AfterSuccess(ctx, d.r.Name)
		}
		r.finish(d.i, d.r)
	}
}

// startReady decides pending steps whose dependencies are final until no
// more can be decided, in the order of passes over the steps in file order
// (see readyQueue).
func (r *jobRun) startReady(ctx context.Context) {
	r.ready.wake(ctx, r.failed)
	limit := orDefault(r.e.MaxParallel, DefaultMaxParallel)
	for {
		i, ok := r.ready.pop(r.running < limit)
		if !ok {
			break
		}
		if !r.decide(ctx, i) {
			r.ready.hold(i)
		}
	}
	r.ready.endPass()
}

// decide cancels, skips or starts step i, and reports whether it did; a step
// held back by MaxParallel stays pending.
func (r *jobRun) decide(ctx context.Context, i int) bool {
	w := r.job.Pipeline.Steps[i].When
	done, resumed := r.job.Done[r.steps[i].Name]
	switch {
	case ctx.Err() != nil:
		r.finish(i, StepResult{Status: StepCancelled, Reason: "the job ended before it started"})
	case resumed:
		r.finish(i, StepResult{Status: StepSkipped, Reason: done})
	case !w.Match(r.job.build()):
		r.finish(i, StepResult{Status: StepSkipped, Reason: "when does not match the branch, event, ref or changed files"})
	case !w.RunsOn(r.failed) && r.failed:
		r.finish(i, StepResult{Status: StepSkipped, Reason: "an earlier step failed"})
	case !w.RunsOn(r.failed):
		r.finish(i, StepResult{Status: StepSkipped, Reason: "runs only after a failure"})
	case r.running >= orDefault(r.e.MaxParallel, DefaultMaxParallel):
		return false
	default:
		r.start(ctx, i)
	}
	return true
}

// start runs step i in its own goroutine.
func (r *jobRun) start(ctx context.Context, i int) {
	now := time.Now()
	r.steps[i].Status, r.steps[i].StartedAt = StepRunning, now
	r.running++
	r.obs.StepStarted(r.steps[i].Name, now)
	r.log.Debug("step started", "step", r.steps[i].Name)
	go func() { r.done <- r.runStep(ctx, i, now) }()
}

// finish records step i's final result and tells the observer.
func (r *jobRun) finish(i int, res StepResult) {
	res.Name = r.steps[i].Name
	r.steps[i] = res
	if (res.Status == StepFailure && !res.AllowedFailure) || (res.Status == StepCancelled && res.Attempts > 0) {
		r.failed = true
	}
	if res.Attempts > 0 {
		r.log.Debug("step finished", "step", res.Name, "status", res.Status, "exit_code", res.ExitCode, "attempts", res.Attempts)
	}
	r.obs.StepFinished(res.Name, res)
	r.ready.final(i)
}

// abandon ends a job whose Setup failed: no step runs.
func (r *jobRun) abandon(ctx context.Context, err error) {
	r.setupErr = err
	for i := range r.steps {
		r.finish(i, StepResult{Status: StepCancelled, Reason: "setup failed"})
	}
}

// report builds the job's Report once every step is final.
func (r *jobRun) report(ctx context.Context, start time.Time) Report {
	rep := Report{Steps: r.steps, StartedAt: start, Duration: time.Since(start)}
	rep.Status, rep.Error = r.status(ctx)
	rep.Error = r.sink.Masker().String(rep.Error)
	return rep
}

// status decides the job's status and its reason.
func (r *jobRun) status(ctx context.Context) (ci.Status, string) {
	interrupted := slices.ContainsFunc(r.steps, func(s StepResult) bool { return s.Status == StepCancelled })
	if cause := context.Cause(ctx); cause != nil && (interrupted || r.setupErr != nil) {
		if te := (*TimeoutError)(nil); errors.As(cause, &te) {
			return ci.StatusError, te.Error()
		}
		return ci.StatusCancelled, cause.Error()
	}
	if r.setupErr != nil {
		return ci.StatusError, r.setupErr.Error()
	}
	for _, s := range r.steps {
		switch {
		case s.AllowedFailure:
		case s.Error != "":
			return ci.StatusError, fmt.Sprintf("step %s: %s", s.Name, s.Error)
		case s.Status == StepCancelled:
			return ci.StatusError, fmt.Sprintf("step %s was stopped by the executor", s.Name)
		}
	}
	if r.failed {
		return ci.StatusFailure, ""
	}
	return ci.StatusSuccess, ""
}
