package dispatch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/rpc"
)

// HandleJob dispatches the job a job message ({"job_id","attempt"}) names.
// It is idempotent: a job that is no longer queued, or a message of an older
// attempt, is acknowledged without doing anything, and the move to assigned
// is a conditional write, so two deliveries of one message (a redelivered
// batch, a duplicate publish) start one Run between them.
//
// It resolves the job's labels, asks the Selector for candidates, resolves
// the job's secrets and registry credentials (grantFor), and offers the job
// to each in turn: assign (conditional), Run over RPC; accepted ends
// it, a rejection or an RPC error puts the job back to queued (same attempt)
// for the next. When nobody takes it, the job records why it waits and its
// message is published again after Config.WaitDelay; the monitor's timeout
// ends a job that waits too long.
//
// An error returns the message to the queue: a body that is not a job
// message, a job that does not exist, a Store or Queue failure. On the last
// delivery the queue makes (Delivery.Attempt > Config.DeliveryLimit) a job
// that still fails is marked error ("dispatch failed N times: ...") before
// the error is returned and the message dead-lettered.
func (d *Dispatcher) HandleJob(ctx context.Context, dl ci.Delivery) error {
	msg, err := ci.ParseJobMessage(dl.Body)
	if err != nil {
		return fmt.Errorf("message %s: %w", dl.ID, err)
	}
	job, err := d.store.GetJob(ctx, msg.JobID)
	if err != nil {
		return fmt.Errorf("job message %s: %w", msg.JobID, err)
	}
	log := d.log.With("job_id", job.ID, "repo", job.Repo, "sha", job.SHA, "attempt", job.Attempt)
	if job.Status != ci.StatusQueued || msg.Attempt < job.Attempt {
		log.Debug("job message has nothing to do", "status", job.Status, "message_attempt", msg.Attempt)
		return nil
	}
	if err := d.dispatch(ctx, log, job); err != nil {
		return d.failed(ctx, log, dl, job, err)
	}
	return nil
}

// dispatch offers job to the runners, or makes it wait.
func (d *Dispatcher) dispatch(ctx context.Context, log *slog.Logger, job ci.Job) error {
	skip, why := d.skipped(ctx, log, job)
	if skip != "" {
		return d.skip(ctx, log, job, skip)
	}
	if err := d.supersede(ctx, log, job); err != nil {
		return err
	}
	labels, lwhy := d.labels(ctx, log, job)
	why = cmp.Or(why, lwhy)
	if why == "" {
		job.Labels = labels
		done, reason, err := d.place(ctx, log, job)
		if done || err != nil {
			return err
		}
		why = reason
	}
	return d.wait(ctx, log, job, why)
}

// place offers job, with its grant (clone token, secrets, registry
// credentials), to the runners the selector picks. The grant is resolved
// only when there is a runner to offer it to, so a waiting job does not mint
// tokens or read the secret store at every retry. From then on the job
// claims a slot of the runner it is offered to (see tally), so that the jobs
// handled meanwhile see that slot taken. done is true when a runner took the
// job or it moved on; otherwise why says why it waits.
func (d *Dispatcher) place(ctx context.Context, log *slog.Logger, job ci.Job) (done bool, why string, err error) {
	candidates, reason, c, err := d.candidates(ctx, job, false)
	if err != nil {
		return false, "", err
	}
	defer c.drop()
	if len(candidates) == 0 && reason != "" {
		return false, reason, nil
	}
	g, why := d.grantFor(ctx, log, job)
	if why == "" {
		g.token, why = d.cloneToken(ctx, log, job, candidates)
	}
	if why != "" {
		return false, why, nil
	}
	done, refusals, err := d.offer(ctx, log, job, g, candidates, c)
	return done, cmp.Or(reason, refusals), err
}

// candidates asks the selector for job's runners, from the registry as
// listRunners gives it (fresh: read now), and claims a slot of the first
// that still has one (tally.claimFirst; the caller drops the claim when
// done). When a kept registry
// has no place for the job, it asks again from a fresh read before the job
// waits.
func (d *Dispatcher) candidates(ctx context.Context, job ci.Job, fresh bool) ([]ci.Runner, string, *claim, error) {
	mark, runners, kept, err := d.listRunners(ctx, fresh)
	if err != nil {
		return nil, "", nil, fmt.Errorf("list runners: %w", err)
	}
	picked, reason := d.selector.Pick(job, d.tally.view(mark, runners), d.now())
	candidates, c := d.tally.claimFirst(mark, picked)
	if len(candidates) == 0 && len(picked) > 0 {
		reason = fmt.Sprintf(reasonBusy, len(picked)) // filled by jobs picked meanwhile
	}
	if len(candidates) == 0 && reason != "" && kept {
		return d.candidates(ctx, job, true)
	}
	return candidates, reason, c, nil
}

// labels returns the labels of job: those it has, or those its narwhal.yml
// asks for. When the file cannot be read now, it returns the reason to wait.
func (d *Dispatcher) labels(ctx context.Context, log *slog.Logger, job ci.Job) ([]string, string) {
	if len(job.Labels) > 0 || d.config == nil {
		return job.Labels, ""
	}
	fctx, cancel := context.WithTimeout(ctx, d.cfg.FetchTimeout)
	defer cancel()
	labels, err := d.config.Labels(fctx, job)
	if err != nil {
		log.Warn("cannot read narwhal.yml; the job waits", "err", err)
		return nil, "cannot read narwhal.yml: " + err.Error()
	}
	return labels, ""
}

// offer offers job to candidates in order, moving claim c to each. done is
// true when one took it or the job moved on meanwhile; otherwise refusals
// says who refused and why.
func (d *Dispatcher) offer(ctx context.Context, log *slog.Logger, job ci.Job, g grant, candidates []ci.Runner, c *claim) (done bool, refusals string, err error) {
	var why []string
	for _, r := range candidates {
		c.move(r.ID)
		done, reason, err := d.try(ctx, log, job, g, r, c)
		if done || err != nil {
			return done, "", err
		}
		why = append(why, r.ID+": "+reason)
	}
	return false, fmt.Sprintf("all %d candidate runners refused (%s)", len(why), strings.Join(why, "; ")), nil
}

// try assigns job to r and calls Run, with claim c on a slot of r. done is
// true when r took the job or the job moved on; otherwise the job is queued
// again and reason says why.
func (d *Dispatcher) try(ctx context.Context, log *slog.Logger, job ci.Job, g grant, r ci.Runner, c *claim) (done bool, reason string, err error) {
	assigned, ok, err := d.updateKnown(ctx, job, func(j *ci.Job) error {
		if j.Status != ci.StatusQueued || j.Attempt != job.Attempt {
			return errGone
		}
		if err := j.Move(ci.StatusAssigned); err != nil {
			return err
		}
		j.RunnerID, j.Waiting, j.Labels = r.ID, "", job.Labels
		return nil
	})
	if err != nil || !ok {
		return true, "", err
	}
	accepted, reason, err := d.run(ctx, assigned, g, r)
	if err == nil && accepted {
		d.accepted(ctx, log, assigned, r, c)
		return true, "", nil
	}
	if err != nil {
		log.Warn("run on runner failed", "runner_id", r.ID, "err", err)
		reason = "RPC failed"
		if !errors.Is(err, rpc.ErrInvalidJob) {
			d.rpcFailed(ctx, r)
			d.cancelOn(ctx, r, job.ID) // the failed Run may have reached it
		}
	}
	if _, ok, uerr := d.update(ctx, job.ID, unassign(assigned)); uerr != nil || !ok {
		return true, "", uerr
	}
	if errors.Is(err, rpc.ErrInvalidJob) {
		return false, "", err // no runner will take it
	}
	return false, reason, nil
}

// rpcFailed counts a failed Run against r: one more recent failure, and
// RPCFailedAt now, which puts r behind the other candidates for
// Config.RPCPenalty (see LeastLoaded). A Run cut short by the handler's own
// end says nothing about r.
func (d *Dispatcher) rpcFailed(ctx context.Context, r ci.Runner) {
	if ctx.Err() != nil {
		return
	}
	now := d.now()
	d.adjustRunner(ctx, r.ID, func(r *ci.Runner) { r.Failures, r.RPCFailedAt = r.Failures+1, now })
	d.forgetRunners() // the next job sees the penalty
}

// unassign puts a job assigned as in back to queued, same attempt.
func unassign(as ci.Job) func(*ci.Job) error {
	return func(j *ci.Job) error {
		if j.Status != ci.StatusAssigned || j.Attempt != as.Attempt || j.RunnerID != as.RunnerID {
			return errGone
		}
		return requeueSame(j)
	}
}

// run calls Run on r within Config.RPCTimeout, with what g grants.
func (d *Dispatcher) run(ctx context.Context, job ci.Job, g grant, r ci.Runner) (bool, string, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.RPCTimeout)
	defer cancel()
	c, err := d.clients.Client(ctx, r)
	if err != nil {
		return false, "", err
	}
	rj := rpc.JobFromCI(job, g.secrets, g.token)
	rj.Registries = g.registries
	return c.Run(ctx, rj)
}

// wait records why the job waits and publishes its message again later.
func (d *Dispatcher) wait(ctx context.Context, log *slog.Logger, job ci.Job, why string) error {
	waiting, changed, err := d.update(ctx, job.ID, func(j *ci.Job) error {
		if j.Status != ci.StatusQueued || j.Attempt != job.Attempt {
			return errGone
		}
		if j.Waiting == why && slices.Equal(j.Labels, job.Labels) {
			return errUnchanged
		}
		j.Waiting, j.Labels = why, job.Labels
		return nil
	})
	if err != nil {
		return err
	}
	if waiting.Status != ci.StatusQueued || waiting.Attempt != job.Attempt {
		return nil // someone else has it now
	}
	if changed {
		log.Info("job waits", "reason", why)
		d.report(ctx, waiting)
	}
	if err := d.queue.PublishDelayed(ctx, ci.NewJobMessage(waiting), d.cfg.WaitDelay); err != nil {
		return fmt.Errorf("publish delayed: %w", err)
	}
	return nil
}

// failed handles a dispatch error: on the last delivery it ends the job.
func (d *Dispatcher) failed(ctx context.Context, log *slog.Logger, dl ci.Delivery, job ci.Job, cause error) error {
	err := fmt.Errorf("dispatch job %s: %w", job.ID, cause)
	if dl.Attempt <= d.cfg.DeliveryLimit {
		log.Warn("dispatch failed; the message will be redelivered", "delivery", dl.Attempt, "err", cause)
		return err
	}
	why := fmt.Sprintf("dispatch failed %d times: %v", dl.Attempt, cause)
	ended, ok, uerr := d.update(ctx, job.ID, func(j *ci.Job) error {
		if j.Status != ci.StatusQueued || j.Attempt != job.Attempt {
			return errGone
		}
		return d.end(j, ci.StatusError, why)
	})
	if uerr != nil {
		return errors.Join(err, uerr)
	}
	if ok {
		log.Error("job ends in error", "reason", why)
		d.report(ctx, ended)
	}
	return err
}

// accepted completes an accepted Run: affinity, the runner's load (claim c
// becomes a placement), status.
func (d *Dispatcher) accepted(ctx context.Context, log *slog.Logger, job ci.Job, r ci.Runner, c *claim) {
	log.Info("job assigned", "runner_id", r.ID)
	if rec, ok := d.selector.(recorder); ok {
		rec.Ran(job.Repo, r.ID)
	}
	d.tally.took(ctx, c, r.ID, load{placed: 1, accepted: true})
	cur, err := d.reread(ctx, job)
	switch {
	case err != nil:
		log.Warn("reread assigned job", "err", err)
	case cur.Status == ci.StatusCancelled && cur.RunnerID == r.ID:
		d.cancelOn(ctx, r, job.ID) // cancelled while Run was under way
	case cur.Status == ci.StatusAssigned && cur.Attempt == job.Attempt:
		d.report(ctx, cur) // later states are reported by their handlers
	}
}
