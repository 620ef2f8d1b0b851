package dispatch

import (
	"context"
	"errors"

	"github.com/narwhal-ci/narwhal/internal/retry"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// report tells Deps.Changed of a job change, then hands job to the
// StatusReporter (in the order of the job's life: see statusOrder), best
// effort: up to
// Config.StatusAttempts tries, each within Config.StatusTimeout, with a
// doubling pause from Config.StatusBackoff, stopping when ctx ends. A status
// that cannot be reported is logged and dropped: GitHub being down never
// fails or delays a job beyond these few seconds. It runs synchronously, so a
// handler's reports reach GitHub in the order of the job's changes and none
// is left running when a Lambda invocation returns.
func (d *Dispatcher) report(ctx context.Context, job ci.Job) {
	if d.changed != nil {
		d.changed(ctx, job)
	}
	if d.status == nil {
		return
	}
	slot := d.order.lock(job.ID)
	defer slot.mu.Unlock()
	if slot.behind(job) {
		return // a later state of this attempt went out already
	}
	if job.Status.Final() {
		defer d.order.forget(job.ID)
	}
	pause := d.cfg.StatusBackoff
	var err error
	for attempt := 1; ; attempt++ {
		if err = d.reportOnce(ctx, job); err == nil {
			return
		}
		if attempt >= d.cfg.StatusAttempts || !retry.Sleep(ctx, pause) {
			break
		}
		pause *= 2
	}
	d.log.Warn("commit status not reported", "job_id", job.ID, "status", job.Status, "err", err)
}

func (d *Dispatcher) reportOnce(ctx context.Context, job ci.Job) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.StatusTimeout)
	defer cancel()
	return d.status.Report(ctx, job)
}

// end moves j to the final state s with the reason why (for error and
// cancelled) and stamps FinishedAt.
func (d *Dispatcher) end(j *ci.Job, s ci.Status, why string) error {
	if err := j.Move(s); err != nil {
		return err
	}
	j.Error, j.Waiting, j.FinishedAt = why, "", d.now()
	return nil
}

// adjustRunner changes the registry's record of runner id, best effort: the
// registry is a hint for scheduling that the next heartbeat corrects, so a
// lost race with a heartbeat or a Store error only costs precision.
func (d *Dispatcher) adjustRunner(ctx context.Context, id string, change func(*ci.Runner)) {
	r, err := d.store.GetRunner(ctx, id)
	if err == nil {
		change(&r)
		err = d.store.PutRunner(ctx, r)
	}
	if err != nil && !errors.Is(err, ci.ErrNotFound) {
		d.log.Warn("update runner record", "runner_id", id, "err", err)
	}
}

// cancelOn asks runner r to stop job id, best effort within
// Config.RPCTimeout; a runner that does not have the job is fine.
func (d *Dispatcher) cancelOn(ctx context.Context, r ci.Runner, id string) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.RPCTimeout)
	defer cancel()
	c, err := d.clients.Client(ctx, r)
	if err == nil {
		err = c.Cancel(ctx, id)
	}
	if err != nil && !errors.Is(err, ci.ErrNotFound) {
		d.log.Warn("cancel job on runner", "job_id", id, "runner_id", r.ID, "err", err)
	}
}

// cancelOnID is cancelOn for a runner known by ID only.
func (d *Dispatcher) cancelOnID(ctx context.Context, runnerID, id string) {
	if runnerID == "" {
		return
	}
	r, err := d.store.GetRunner(ctx, runnerID)
	if err != nil {
		d.log.Warn("cancel job on runner: runner unknown", "job_id", id, "runner_id", runnerID, "err", err)
		return
	}
	d.cancelOn(ctx, r, id)
}
