package dispatch

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/intake"
)

// ErrJobFinished: the job already ended, so it cannot be cancelled (the REST
// API answers 409 Conflict). Cancel's error also matches
// ci.ErrIllegalTransition and holds a *ci.IllegalTransitionError naming the
// state the job ended in.
var ErrJobFinished = errors.New("job already finished")

// CancelReason is the Error of a job a user cancelled.
const CancelReason = "cancelled by user"

// Cancel ends a queued, assigned or running job as cancelled (a conditional
// write), reports the status, and then asks its runner to stop it, best
// effort: the job is cancelled whether or not the runner answers, and the
// runner's own final report is then ignored. A finished job gives an error
// matching ErrJobFinished and ci.ErrIllegalTransition, beside the job as it
// is; an unknown one ci.ErrNotFound.
func (d *Dispatcher) Cancel(ctx context.Context, jobID string) (ci.Job, error) {
	return d.cancel(ctx, jobID, CancelReason)
}

// cancel is Cancel with the reason why.
func (d *Dispatcher) cancel(ctx context.Context, jobID, why string) (ci.Job, error) {
	job, ok, err := d.update(ctx, jobID, func(j *ci.Job) error {
		if j.Status.Final() {
			return errGone
		}
		return d.end(j, ci.StatusCancelled, why)
	})
	if err != nil {
		return ci.Job{}, fmt.Errorf("cancel: %w", err)
	}
	if !ok {
		illegal := &ci.IllegalTransitionError{JobID: jobID, From: job.Status, To: ci.StatusCancelled}
		return job, fmt.Errorf("cancel job %s: %w: %w", jobID, ErrJobFinished, illegal)
	}
	d.log.Info("job cancelled", "job_id", job.ID, "runner_id", job.RunnerID, "reason", why)
	d.report(ctx, job)
	d.cancelOnID(ctx, job.RunnerID, job.ID)
	return job, nil
}

// Resubmit creates and publishes a new job for the commit of job jobID: the
// same repository, clone URL, SHA, ref, branch, pull request, fork flag,
// author and message, with Event manual and ParentID jobID. Its ID is
// ci.JobID(repo, sha, manual, nonce) with a random nonce, so every resubmit
// is a new job. It goes through intake.Intake.Accept: a job whose publish
// fails is still created, and the sweeper publishes it later.
//
// With fromStep, the new job re-runs the parent from that step: the steps
// before it that succeeded are not run again, and the runner starts from the
// workspace snapshot saved after them (ci.PlanResume; its errors, matching
// ci.ErrCannotResume or ci.ErrNoSnapshot, create nothing). Only a finished
// parent can be re-run from a step.
func (d *Dispatcher) Resubmit(ctx context.Context, jobID, fromStep string) (ci.Job, error) {
	parent, err := d.store.GetJob(ctx, jobID)
	if err != nil {
		return ci.Job{}, fmt.Errorf("resubmit: %w", err)
	}
	job := ci.Job{
		Repo: parent.Repo, CloneURL: parent.CloneURL, SHA: parent.SHA, Ref: parent.Ref,
		Branch: parent.Branch, Event: ci.EventManual, PR: parent.PR, Fork: parent.Fork,
		Author: parent.Author, Message: parent.Message, ParentID: parent.ID,
	}
	if fromStep != "" {
		if job.Resume, err = d.planResume(parent, fromStep); err != nil {
			return ci.Job{}, fmt.Errorf("resubmit job %s from step %s: %w", jobID, fromStep, err)
		}
	}
	out, err := d.accept(ctx, job)
	if err != nil {
		return ci.Job{}, fmt.Errorf("resubmit job %s: %w", jobID, err)
	}
	if out.Problem != nil {
		d.log.Warn("resubmitted job not published yet; the sweeper will", "job_id", out.JobID, "err", out.Problem)
	}
	created, err := d.store.GetJob(ctx, out.JobID)
	if err != nil {
		return ci.Job{}, fmt.Errorf("resubmit job %s: %w", jobID, err)
	}
	d.log.Info("job resubmitted", "job_id", created.ID, "parent_id", jobID)
	d.report(ctx, created)
	return created, nil
}

// planResume plans the re-run of a finished parent from step from.
func (d *Dispatcher) planResume(parent ci.Job, from string) (*ci.Resume, error) {
	if !parent.Status.Final() {
		return nil, fmt.Errorf("%w: job %s has not finished", ci.ErrCannotResume, parent.ID)
	}
	return ci.PlanResume(parent, from, d.now(), d.cfg.SnapshotKeep)
}

// accept creates job with a fresh random ID through intake, trying another
// nonce in the unlikely case that the ID is taken.
func (d *Dispatcher) accept(ctx context.Context, job ci.Job) (intake.Outcome, error) {
	in := intake.Intake{Store: d.store, Queue: d.queue, Logger: d.log, Now: d.now}
	for range 3 {
		job.ID = ci.JobID(job.Repo, job.SHA, ci.EventManual, rand.IntN(math.MaxInt32)+1)
		out, err := in.Accept(ctx, "", job)
		if err != nil || !out.Duplicate {
			return out, err
		}
	}
	return intake.Outcome{}, errors.New("no free job ID")
}

// Drain asks runner runnerID to drain (rpc Drain with the runner's default
// deadline) and then marks it draining in the registry, so no new job is
// offered to it. The runner's heartbeats keep saying draining from then on,
// and the jobs it hands back are requeued. An unknown runner gives
// ci.ErrNotFound; a runner that cannot be reached gives the RPC error and
// stays as it was.
func (d *Dispatcher) Drain(ctx context.Context, runnerID string) error {
	r, err := d.store.GetRunner(ctx, runnerID)
	if err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	rctx, cancel := context.WithTimeout(ctx, d.cfg.RPCTimeout)
	defer cancel()
	c, err := d.clients.Client(rctx, r)
	if err == nil {
		err = c.Drain(rctx, 0)
	}
	if err != nil {
		return fmt.Errorf("drain runner %s: %w", runnerID, err)
	}
	if r, err = d.store.GetRunner(ctx, runnerID); err == nil {
		r.State = ci.RunnerDraining
		err = d.store.PutRunner(ctx, r)
	}
	if err != nil {
		return fmt.Errorf("drain runner %s: mark draining: %w", runnerID, err)
	}
	d.forgetRunners()
	d.log.Info("runner draining", "runner_id", runnerID)
	return nil
}
