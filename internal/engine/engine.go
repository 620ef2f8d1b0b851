// Package engine runs one job's pipeline: the step graph on an
// executor.Executor, with when filters, retries, allowed failures, step and
// job timeouts, cancellation, secrets and capped, masked logs. It knows
// nothing of queues, stores or GitHub: a job goes in, a Report comes out.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/narwhal-ci/narwhal/internal/executor"
	"github.com/narwhal-ci/narwhal/internal/logsink"
	"github.com/narwhal-ci/narwhal/internal/pipeline"
)

// Defaults for the Engine's zero fields.
const (
	DefaultMaxParallel     = 4
	DefaultJobTimeout      = time.Hour
	DefaultTeardownTimeout = 2 * time.Minute
)

// Engine runs jobs on an executor. Its fields are read, never written, by
// Run, so one Engine may run many jobs concurrently.
type Engine struct {
	Exec   executor.Executor
	Logger *slog.Logger // nil: discard
	// LogLimit caps each job's log output (see package logsink);
	// 0 means logsink.DefaultLimit.
	LogLimit int64
	// MaxParallel is how many steps of one job may run at once;
	// 0 means DefaultMaxParallel.
	MaxParallel int
	// JobTimeout applies to pipelines without a timeout of their own;
	// 0 means DefaultJobTimeout.
	JobTimeout time.Duration
	// TeardownTimeout bounds the executor's Teardown; 0 means
	// DefaultTeardownTimeout.
	TeardownTimeout time.Duration
}

// Job is one run of a pipeline.
type Job struct {
	ID     string
	Branch string // for when.branch; the target branch of a pull request
	Event  string // for when.event: push, pull_request, tag, manual
	Ref    string // for when.ref: refs/heads/main, refs/tags/v1
	// ChangedFiles are the files the push or pull request changed, for
	// when.path, when ChangedKnown; unknown files match every path filter.
	ChangedFiles []string
	ChangedKnown bool
	Workspace    string // host directory holding the checked-out tree
	Pipeline     *pipeline.Pipeline
	// Env is extra environment for every step (CI_COMMIT_SHA, CI_REPO, ...),
	// applied after the pipeline's and the step's own.
	Env map[string]string
	// Secrets are the values of secret names. A step naming a secret missing
	// here fails with a *MissingSecretError before it starts; every value
	// (and its base64 forms) is masked in all steps' logs and step names.
	Secrets map[string]string
	// Withheld names secrets that exist but that this job may not have (a
	// pull request from a fork): a step naming one fails saying so.
	Withheld []string
	// Registries are the credentials the executor pulls images with.
	Registries []executor.RegistryAuth
	// Done are steps not to run again, by name, with the reason: a job that
	// re-runs from a failed step starts from a workspace in which they have
	// already succeeded. They are reported skipped with that reason, and
	// their dependents run as after a success.
	Done map[string]string
	// AfterSuccess, when set, is called after each step that succeeded (or
	// failed with allow_failure, which does not stop its dependents), before
	// its dependents start (steps running beside it go on): where the runner
	// saves the workspace for a later re-run from a step.
	AfterSuccess func(ctx context.Context, step string)
	// Hooks, when set, wrap every step that runs (see StepHooks): where the
	// runner restores and saves caches and uploads artifacts.
	Hooks StepHooks
	// Masked are more values to mask in every step's log, which no step
	// gets (the job's clone token).
	Masked []string
}

// StepHooks wrap each step that runs, in the step's goroutine: BeforeStep
// before its first attempt, AfterStep after its last, with its result, before
// the step is reported finished and before its dependents start. note writes
// a line to the step's log (masked, like the step's own output). Neither can
// fail the step: a hook says what went wrong in the step's log.
type StepHooks interface {
	BeforeStep(ctx context.Context, step *pipeline.Step, note func(string))
	AfterStep(ctx context.Context, step *pipeline.Step, res StepResult, note func(string))
}

// build is what when filters are matched against.
func (job *Job) build() pipeline.Build {
	return pipeline.Build{Branch: job.Branch, Event: job.Event, Ref: job.Ref,
		Files: job.ChangedFiles, FilesKnown: job.ChangedKnown}
}

// TimeoutError is the cancellation cause when a job runs out of time.
type TimeoutError struct{ After time.Duration }

func (e *TimeoutError) Error() string { return "timed out after " + fmtDuration(e.After) }

// Run runs the job and returns its report.
//
// The pipeline must be valid (pipeline.Parse output: dependencies resolved,
// images defaulted); an invalid one is reported as an error status and
// returned as an error before the executor is touched. A pipeline whose when
// does not match the job's branch, event, ref and changed files is not run: the Report has
// Skipped set and Status success, and the executor is not called.
//
// Otherwise Setup, the steps and Teardown run on the executor. Teardown
// always follows Setup, even a failed one, on a context detached from ctx.
// obs.JobFinished receives the final Report before Teardown starts, so a
// caller can publish the result first; Run returns when Teardown has ended,
// with the same Report and Teardown's error, if any (the Report stands
// regardless). Cancelling ctx cancels the job: running steps are stopped and
// the Report says cancelled, with context.Cause(ctx) as its Error.
func (e *Engine) Run(ctx context.Context, job Job, obs Observer) (Report, error) {
	o := &serialObserver{obs: obs, names: logsink.NewMasker(slices.Collect(maps.Values(job.Secrets)))}
	log := e.logger().With("job_id", job.ID)
	if err := check(job.Pipeline); err != nil {
		r := invalidReport(job.Pipeline, err)
		o.JobFinished(r)
		return r, fmt.Errorf("job %s: %w", job.ID, err)
	}
	if !job.Pipeline.When.Match(job.build()) {
		r := skippedReport(job.Pipeline, o)
		o.JobFinished(r)
		log.Info("pipeline skipped by its when filter", "branch", job.Branch, "event", job.Event)
		return r, nil
	}
	xjob := &executor.Job{ID: job.ID, Workspace: job.Workspace, Services: services(job.Pipeline), Registries: job.Registries}
	r := e.runJob(ctx, &job, xjob, o, log)
	o.JobFinished(r)
	log.Info("job finished", "status", r.Status, "error", r.Error, "duration", r.Duration)
	return r, e.teardown(ctx, xjob)
}

// runJob sets up the executor, runs the steps and builds the report.
func (e *Engine) runJob(ctx context.Context, job *Job, xjob *executor.Job, o *serialObserver, log *slog.Logger) Report {
	start := time.Now()
	jctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	limit := e.jobTimeout(job.Pipeline)
	timer := time.AfterFunc(limit, func() { cancel(&TimeoutError{After: limit}) })
	defer timer.Stop()

	r := newJobRun(e, job, xjob, o, log)
	if err := e.Exec.Setup(jctx, xjob); err != nil {
		r.abandon(jctx, fmt.Errorf("setup: %w", err))
	} else {
		r.schedule(jctx)
	}
	return r.report(jctx, start)
}

// teardown runs the executor's Teardown on a context that outlives ctx.
func (e *Engine) teardown(ctx context.Context, xjob *executor.Job) error {
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), orDefault(e.TeardownTimeout, DefaultTeardownTimeout))
	defer cancel()
	if err := e.Exec.Teardown(tctx, xjob); err != nil {
		return fmt.Errorf("teardown job %s: %w", xjob.ID, err)
	}
	return nil
}

func (e *Engine) logger() *slog.Logger {
	if e.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Logger
}

// Timeout is the time limit a Run of p gets: the pipeline's own timeout, or
// JobTimeout (DefaultJobTimeout) when it has none.
func (e *Engine) Timeout(p *pipeline.Pipeline) time.Duration { return e.jobTimeout(p) }

func (e *Engine) jobTimeout(p *pipeline.Pipeline) time.Duration {
	if p.Timeout > 0 {
		return p.Timeout
	}
	return orDefault(e.JobTimeout, DefaultJobTimeout)
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// check rejects what the scheduler cannot run: no pipeline, unnamed or
// duplicate steps, unknown dependencies, cycles.
func check(p *pipeline.Pipeline) error {
	if p == nil {
		return errors.New("no pipeline")
	}
	seen := map[string]bool{}
	for _, s := range p.Steps {
		if s.Name == "" || seen[s.Name] {
			return fmt.Errorf("invalid pipeline: step name %q is empty or repeated", s.Name)
		}
		seen[s.Name] = true
	}
	if _, err := p.Order(); err != nil {
		return fmt.Errorf("invalid pipeline: %w", err)
	}
	return nil
}

// services converts the pipeline's services for the executor.
func services(p *pipeline.Pipeline) []executor.Service {
	var out []executor.Service
	for _, s := range p.Services {
		out = append(out, executor.Service{Name: s.Name, Image: s.Image, Env: s.Env, Command: s.Command})
	}
	return out
}
