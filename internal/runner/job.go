package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/engine"
	"github.com/narwhal-ci/narwhal/internal/executor"
	"github.com/narwhal-ci/narwhal/internal/logsink"
	"github.com/narwhal-ci/narwhal/internal/logstore"
	"github.com/narwhal-ci/narwhal/internal/pipeline"
	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/workspace"
)

// RunnerStep is the step name of the lines the runner itself writes to a
// job's log (checkout and pipeline errors), beside the steps' own.
const RunnerStep = "narwhal"

// job is one accepted job.
type job struct {
	spec rpc.Job
	// attempt is the attempt reports name: spec.Attempt, raised when the
	// dispatcher, having given the runner up for lost, offers the same job
	// again while it still runs here (see Runner.Run).
	attempt atomic.Int64
	// timeout is the job's time limit in whole seconds once its pipeline is
	// read (0 before), for the running reports.
	timeout atomic.Int64
	// plan is every step of the pipeline, pending, once it is read (nil
	// before), for the running reports.
	plan    atomic.Pointer[[]ci.Step]
	snaps   snapshots  // the workspace saved after each step, for re-runs
	hooks   *stepHooks // caches and artifacts of each step, once the engine runs
	ctx     context.Context
	cancel  context.CancelCauseFunc
	started time.Time
	log     *slog.Logger
	ship    *logstore.Shipper
}

// start registers spec as active and runs it in its own goroutine; r.mu is
// held.
func (r *Runner) start(spec rpc.Job) {
	ctx, cancel := context.WithCancelCause(context.Background())
	j := &job{spec: spec, ctx: ctx, cancel: cancel, started: time.Now()}
	j.attempt.Store(int64(spec.Attempt))
	j.log = r.log.With("job_id", spec.ID, "repo", spec.Repo, "sha", spec.SHA, "attempt", spec.Attempt)
	r.active[spec.ID] = j
	r.metrics.running.Set(float64(len(r.active)))
	go r.runJob(j)
}

// runJob runs j from checkout to teardown and reports it.
func (r *Runner) runJob(j *job) {
	defer r.finish(j)
	j.log.Info("job accepted")
	j.ship = logstore.NewShipper(r.deps.Logs, logstore.LogID(j.spec.ID, j.spec.Attempt), logstore.ShipperOptions{}, j.log)
	r.reporter.send(r.jobEvent(j, ci.StatusRunning, ""))
	dir, err := workspace.NewDir(r.cfg.WorkDir, j.spec.ID)
	if err != nil {
		r.endEarly(j, fmt.Errorf("create workspace: %w", err))
		return
	}
	defer r.removeWorkspace(j, dir)
	p, err := r.checkout(j, dir)
	if err != nil {
		r.endEarly(j, err)
		return
	}
	// Running again, now with the limit the engine enforces: the dispatcher's
	// deadline for the job follows it (a pipeline may run longer than 1h).
	j.timeout.Store(int64((r.eng.Timeout(p) + time.Second - 1) / time.Second))
	j.plan.Store(plan(p))
	r.reporter.send(r.jobEvent(j, ci.StatusRunning, ""))
	ej := engine.Job{
		ID: j.spec.ID, Branch: j.spec.Branch, Event: string(j.spec.Event), Ref: j.spec.Ref, Workspace: dir,
		Pipeline: p, Env: ciEnv(r.cfg.ID, j.spec), Secrets: j.spec.Secrets, Masked: cloneMasks(j.spec),
		Withheld: j.spec.Withheld, Registries: registries(j.spec.Registries),
		ChangedFiles: j.spec.ChangedFiles, ChangedKnown: j.spec.ChangedKnown,
		AfterSuccess: r.saver(j, dir, p),
	}
	j.hooks = newStepHooks(r, j, dir)
	ej.Hooks = j.hooks
	if j.spec.Resume != nil {
		ej.Done = j.spec.Resume.Done
	}
	if _, err := r.eng.Run(j.ctx, ej, &observer{r: r, j: j}); err != nil {
		j.log.Warn("job ended with an error", "err", err)
	}
}

// registries converts the job's registry credentials for the executor.
func registries(rs []rpc.RegistryAuth) []executor.RegistryAuth {
	var out []executor.RegistryAuth
	for _, r := range rs {
		out = append(out, executor.RegistryAuth(r))
	}
	return out
}

// checkout fills the workspace: the clone, or a re-run's snapshot.
func (r *Runner) checkout(j *job, dir string) (*pipeline.Pipeline, error) {
	if j.spec.Resume != nil {
		return r.restore(j.ctx, j, dir)
	}
	return r.deps.Checkout.Checkout(j.ctx, dir, j.spec)
}

// endEarly ends a job that failed before the engine ran: the error goes to
// the job's log and the report says error, or cancelled (queued for a
// requeue) when the job was cancelled meanwhile.
func (r *Runner) endEarly(j *job, err error) {
	status := ci.StatusError
	if cause := context.Cause(j.ctx); cause != nil {
		status, err = ci.StatusCancelled, cause
	}
	msg := logsink.NewMasker(cloneMasks(j.spec)).String(err.Error())
	for line := range strings.Lines(msg) {
		j.ship.Line(RunnerStep, []byte(line))
	}
	j.log.Warn("job could not run", "err", msg)
	r.end(j, engine.Report{Status: status, Error: firstLine(msg), StartedAt: j.started,
		Duration: time.Since(j.started)})
}

// cloneMasks are the forms of the job's clone token that must not reach a
// log.
func cloneMasks(spec rpc.Job) []string { return workspace.TokenForms(spec.CloneToken) }

// end flushes the job's log, then reports its final state: the log is
// complete by the time the state is final. Called once per job, before
// teardown.
func (r *Runner) end(j *job, rep engine.Report) {
	ctx, cancel := context.WithTimeout(context.Background(), LogCloseTimeout)
	defer cancel()
	if err := j.ship.Close(ctx); err != nil {
		j.log.Error("flush job log", "err", err)
	}
	status := rep.Status
	if status == ci.StatusCancelled && handedBack(j) {
		status = ci.StatusQueued
	}
	why := withDiskFull(status, rep.Error, r.cfg.WorkDir)
	r.reporter.send(r.jobEvent(j, status, why))
	r.metrics.observe(metricStatus(status), rep.Duration)
	j.log.Debug("job reported", "status", status, "error", why, "duration", rep.Duration)
}

// handedBack reports whether a drain or shutdown cancelled j (rather than a
// Cancel or the job's own end), so that it is reported for requeue.
func handedBack(j *job) bool {
	cause := context.Cause(j.ctx)
	return errors.Is(cause, errDrained) || errors.Is(cause, errShutdown)
}

// jobEvent is the report of j moving to status; a running report carries
// the job's timeout once known.
func (r *Runner) jobEvent(j *job, status ci.Status, why string) ci.RunnerEvent {
	ev := ci.RunnerEvent{
		Kind: ci.EventJob, JobID: j.spec.ID, Attempt: int(j.attempt.Load()), Status: status,
		Error: why, Requeue: status == ci.StatusQueued,
	}
	if status == ci.StatusRunning {
		ev.TimeoutSeconds = j.timeout.Load()
		if p := j.plan.Load(); p != nil {
			ev.Plan = *p
		}
	}
	return ev
}

// plan is every step of p, pending, with its resolved dependencies.
func plan(p *pipeline.Pipeline) *[]ci.Step {
	steps := make([]ci.Step, len(p.Steps))
	for i, s := range p.Steps {
		steps[i] = ci.Step{Name: s.Name, Status: ci.StepPending, DependsOn: p.Deps(s.Name)}
	}
	return &steps
}

// finish frees j's slot once it is torn down, and remembers it for dedup.
func (r *Runner) finish(j *job) {
	j.cancel(nil)
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.active, j.spec.ID)
	r.recent.add(j.spec.ID, int(j.attempt.Load()))
	r.metrics.running.Set(float64(len(r.active)))
	close(r.changed)
	r.changed = make(chan struct{})
}

// removeWorkspace removes the job's workspace, through the executor's
// Reclaim when the runner's user cannot remove what the steps wrote.
func (r *Runner) removeWorkspace(j *job, dir string) {
	if err := r.remove(dir); err != nil {
		j.log.Warn("remove workspace", "dir", dir, "err", err)
	}
}

// ReclaimTimeout bounds the executor's Reclaim of one directory.
const ReclaimTimeout = time.Minute

// remove removes dir; when that fails and the executor can reclaim it, it
// reclaims dir and removes it again.
func (r *Runner) remove(dir string) error {
	err := workspace.Remove(dir)
	if err == nil || r.deps.Reclaim == nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), ReclaimTimeout)
	defer cancel()
	if rerr := r.deps.Reclaim(ctx, dir); rerr != nil {
		return errors.Join(err, rerr)
	}
	return workspace.Remove(dir)
}

// ciEnv is the environment the runner adds to every step of job (CI_REPO,
// CI_COMMIT_SHA, CI_COMMIT_REF, CI_JOB_ATTEMPT, CI_RUNNER_ID; CI_PR for a pull
// request, CI_COMMIT_TAG, the tag's name, for a tag job); the engine
// adds CI, CI_JOB_ID, CI_COMMIT_BRANCH, CI_EVENT, CI_STEP_NAME, CI_WORKSPACE.
func ciEnv(runnerID string, job rpc.Job) map[string]string {
	env := map[string]string{
		"CI_REPO":        job.Repo,
		"CI_COMMIT_SHA":  job.SHA,
		"CI_COMMIT_REF":  job.Ref,
		"CI_JOB_ID":      job.ID,
		"CI_EVENT":       string(job.Event),
		"CI_JOB_ATTEMPT": strconv.Itoa(job.Attempt),
		"CI_RUNNER_ID":   runnerID,
	}
	if job.PR > 0 {
		env["CI_PR"] = strconv.Itoa(job.PR)
	}
	if tag, ok := strings.CutPrefix(job.Ref, "refs/tags/"); ok && job.Event == ci.EventTag {
		env["CI_COMMIT_TAG"] = tag
	}
	return env
}
