package dispatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/runnerkey"
)

// HandleEvent applies one runner report (a ci.RunnerEvent on ci.QueueEvents).
// It is idempotent and applies reports only forward, so redelivered or
// replayed reports change nothing:
//   - register and heartbeat upsert the runner in the registry, unless the
//     record already has a later heartbeat; a register, or a heartbeat
//     with a new boot ID, then requeues the runner's jobs it does not list
//     (see reconcile.go);
//   - a job report moves the job forward only (assigned → running,
//     assigned or running → final), and only when it is about the job's
//     current attempt on the job's current runner; a running report with
//     a timeout records it on the job (the monitor's deadline follows it); a report from a draining
//     runner handing the job back (Requeue) queues it again as a new attempt
//     and publishes it;
//   - a step report records the step's state on the job, never moving a
//     step backwards.
//
// A report counts only when it comes from the runner it names: its
// signature header (runnerkey.Header) must be the HMAC of the exact body
// under the token derived for ev.RunnerID from one of the fleet keys
// (Config.RunnerKeys). An unsigned or badly signed report is dropped (acked,
// with a warning naming the runner and the message ID): the queue is
// transport, not proof.
//
// Changes that matter on GitHub are reported to the StatusReporter, best
// effort: its failures never fail the handler. An error (a body that is not a
// report, a Store failure) returns the message to the queue; a report about
// a job that does not exist is dropped.
func (d *Dispatcher) HandleEvent(ctx context.Context, dl ci.Delivery) error {
	ev, err := ci.ParseEvent(dl.Body)
	if err != nil {
		return fmt.Errorf("message %s: %w", dl.ID, err)
	}
	if !d.fleet.Verify(ev.RunnerID, dl.Body, dl.Headers[runnerkey.Header]) {
		d.log.Warn("runner report dropped: not signed by the runner it names", "runner_id", ev.RunnerID,
			"message_id", dl.ID, "kind", ev.Kind, "job_id", ev.JobID, "signed", dl.Headers[runnerkey.Header] != "")
		return nil
	}
	switch ev.Kind {
	case ci.EventRegister, ci.EventHeartbeat:
		return d.runnerReport(ctx, ev)
	case ci.EventJob:
		return d.jobReport(ctx, ev)
	case ci.EventStep:
		return d.stepReport(ctx, ev)
	}
	d.log.Warn("runner report of unknown kind ignored", "kind", ev.Kind, "runner_id", ev.RunnerID)
	return nil
}

// runnerReport upserts the reporting runner.
func (d *Dispatcher) runnerReport(ctx context.Context, ev ci.RunnerEvent) error {
	if ev.Runner == nil {
		return fmt.Errorf("%s report of runner %s: no runner", ev.Kind, ev.RunnerID)
	}
	now := d.now()
	seen := reportTime(ev, now)
	old, err := d.store.GetRunner(ctx, ev.RunnerID)
	found := err == nil
	if err != nil && !errors.Is(err, ci.ErrNotFound) {
		return fmt.Errorf("%s report: %w", ev.Kind, err)
	}
	if found && seen.Before(old.LastHeartbeat) {
		return nil // a replayed older report
	}
	r := *ev.Runner
	r.ID, r.LastHeartbeat, r.ExpiresAt = ev.RunnerID, seen, now.Add(10*d.cfg.Lease)
	if r.State == "" {
		r.State = ci.RunnerActive
	}
	if found {
		r.Failures, r.RPCFailedAt = old.Failures, old.RPCFailedAt
		if r.Address == "" {
			r.Address = old.Address
		}
		if old.Address != r.Address || r.State == ci.RunnerOffline {
			d.clients.Release(old)
		}
	}
	if err := d.store.PutRunner(ctx, r); err != nil {
		return fmt.Errorf("%s report: %w", ev.Kind, err)
	}
	d.forgetRunners()
	if restarted(ev.Kind, r, old, found) {
		return d.settle(ctx, r) // a new process holds none of its predecessor's jobs
	}
	return nil
}

// reportTime is when the runner sent ev (its Time, or the runner record's
// heartbeat), never later than now: a runner whose clock runs ahead does not
// extend its lease. Runner clocks are expected to be synchronised (NTP): one
// behind by more than Lease minus the heartbeat interval looks offline.
func reportTime(ev ci.RunnerEvent, now time.Time) time.Time {
	t := ev.Time
	if t.IsZero() && ev.Runner != nil {
		t = ev.Runner.LastHeartbeat
	}
	if t.IsZero() || t.After(now) {
		return now
	}
	return t
}

// jobReport moves the reported job forward.
func (d *Dispatcher) jobReport(ctx context.Context, ev ci.RunnerEvent) error {
	at := ev.Time
	if at.IsZero() {
		at = d.now()
	}
	var before ci.Status
	job, ok, err := d.update(ctx, ev.JobID, func(j *ci.Job) error {
		if j.Status.Final() || j.Attempt != ev.Attempt || j.RunnerID != ev.RunnerID {
			return errGone
		}
		before = j.Status
		return applyJobReport(j, ev, at)
	})
	if errors.Is(err, ci.ErrNotFound) {
		d.log.Warn("report about an unknown job dropped", "job_id", ev.JobID, "runner_id", ev.RunnerID)
		return nil
	}
	if err != nil || !ok || job.Status == before {
		return err // nothing, or only the job's timeout, changed
	}
	d.log.Info("job moved", "job_id", job.ID, "attempt", ev.Attempt, "status", job.Status, "runner_id", ev.RunnerID)
	if job.Status == ci.StatusQueued {
		d.publishJob(ctx, job)
	}
	d.report(ctx, job)
	if job.Status != ci.StatusRunning {
		d.tally.add(ctx, ev.RunnerID, jobLeft(job.Status))
	}
	return nil
}

// applyJobReport applies a report about j's current attempt on its runner.
func applyJobReport(j *ci.Job, ev ci.RunnerEvent, at time.Time) error {
	switch {
	case ev.Requeue:
		if j.Status != ci.StatusAssigned && j.Status != ci.StatusRunning {
			return errGone
		}
		return requeue(j, fmt.Sprintf("handed back by runner %s", ev.RunnerID))
	case ev.Status == ci.StatusRunning:
		return applyRunning(j, ev, at)
	case ev.Status.Final():
		if err := j.Move(ev.Status); err != nil {
			return err
		}
		j.Error, j.Waiting, j.FinishedAt = ev.Error, "", at
		endPending(j)
		return nil
	}
	return errGone // nothing a runner reports about a job it holds
}

// applyRunning moves an assigned job to running at time at, and records the
// job's timeout and step plan when the report carries them (a running job is
// reported again once its pipeline is read).
func applyRunning(j *ci.Job, ev ci.RunnerEvent, at time.Time) error {
	newTimeout := ev.TimeoutSeconds > 0 && ev.TimeoutSeconds != j.TimeoutSeconds
	if newTimeout {
		j.TimeoutSeconds = ev.TimeoutSeconds
	}
	newPlan := setPlan(j, ev.Plan)
	switch {
	case j.Status == ci.StatusAssigned:
		j.StartedAt = at
		return j.Move(ci.StatusRunning)
	case j.Status == ci.StatusRunning && (newTimeout || newPlan):
		return nil
	}
	return errUnchanged
}

// jobLeft is the change of a runner's record when a job left it: a free
// slot until the next heartbeat says so, and a success lowers its failure
// count.
func jobLeft(s ci.Status) load {
	if s == ci.StatusSuccess {
		return load{left: 1, succeeded: 1}
	}
	return load{left: 1}
}
