package dispatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// MonitorResult counts what one Monitor run did.
type MonitorResult struct {
	RunnersOffline int `json:"runners_offline"` // runners marked offline: silent past the lease
	JobsRequeued   int `json:"jobs_requeued"`   // jobs of lost runners (or not held by theirs) queued again (attempt+1)
	JobsLost       int `json:"jobs_lost"`       // such jobs ended in error: MaxAttempts reached
	JobsTimedOut   int `json:"jobs_timed_out"`  // jobs ended in error past their timeout
	Republished    int `json:"republished"`     // unpublished jobs the intake sweep published
	// ArtifactsExpired counts the expired artifacts deleted (Deps.SweepArtifacts).
	ArtifactsExpired int `json:"artifacts_expired"`
}

// Monitor is the periodic check (a schedule in production, a ticker in
// `narwhal dev`). In order, it:
//  1. marks offline the runners silent for longer than Config.Lease, and
//     releases their RPC clients;
//  2. requeues the assigned and running jobs of runners that are offline or
//     gone, and those that their runner's last heartbeat does not list
//     (reconciliation, see reconcile.go): attempt+1, published again; a job
//     lost on attempt Config.MaxAttempts ends in error "runner lost N times"
//     instead;
//  3. ends in error "timed out after ..." the jobs past their timeout
//     (running longer than the timeout their runner reported plus
//     Config.TimeoutGrace, capped at Config.MaxJobTimeout, or than
//     Config.JobTimeout while none was reported; or waiting for a runner
//     longer than Attempt × JobTimeout since creation), cancelling them on
//     their runner, best effort;
//  4. runs the intake sweep (Deps.Sweep);
//  5. deletes the expired artifacts (Deps.SweepArtifacts, at the monitor's
//     now);
//  6. publishes the runner metrics (see publishMetrics).
//
// Each step is conditional and idempotent, so overlapping runs are safe. A
// failing step does not stop the next ones; the errors are joined.
func (d *Dispatcher) Monitor(ctx context.Context) (MonitorResult, error) {
	var res MonitorResult
	var errs []error
	now := d.now()
	runners, err := d.store.ListRunners(ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("monitor: list runners: %w", err))
	}
	res.RunnersOffline, err = d.expireRunners(ctx, runners, now)
	errs = append(errs, err)
	errs = append(errs, d.recoverLost(ctx, now, &res))
	errs = append(errs, d.timeouts(ctx, now, &res))
	if d.sweep != nil {
		res.Republished, err = d.sweep(ctx)
		errs = append(errs, err)
	}
	if d.sweepArt != nil {
		if res.ArtifactsExpired, err = d.sweepArt(ctx, now); err != nil {
			errs = append(errs, fmt.Errorf("monitor: sweep expired artifacts: %w", err))
		}
	}
	errs = append(errs, d.publishMetrics(ctx, runners, now))
	return res, errors.Join(errs...)
}

// expireRunners marks the silent runners of runners offline (in the Store
// and in the slice).
func (d *Dispatcher) expireRunners(ctx context.Context, runners []ci.Runner, now time.Time) (int, error) {
	n := 0
	for i, r := range runners {
		if r.State == ci.RunnerOffline || now.Sub(r.LastHeartbeat) <= d.cfg.Lease {
			continue
		}
		r.State = ci.RunnerOffline
		if err := d.store.PutRunner(ctx, r); err != nil {
			return n, fmt.Errorf("monitor: mark runner %s offline: %w", r.ID, err)
		}
		d.clients.Release(r)
		d.log.Warn("runner offline: no heartbeat within the lease", "runner_id", r.ID,
			"last_heartbeat", r.LastHeartbeat, "lease", d.cfg.Lease)
		runners[i], n = r, n+1
	}
	return n, nil
}

// recoverLost requeues (or ends) the assigned and running jobs of lost
// runners, and those their live runner does not hold (see reconcile.go).
func (d *Dispatcher) recoverLost(ctx context.Context, now time.Time, res *MonitorResult) error {
	seen := map[string]runnerView{} // by runner ID, read once per run
	for _, s := range []ci.Status{ci.StatusAssigned, ci.StatusRunning} {
		jobs, err := d.listJobs(ctx, s)
		if err != nil {
			return fmt.Errorf("monitor: %w", err)
		}
		for _, j := range jobs {
			v, known := seen[j.RunnerID]
			if !known {
				if v, err = d.viewRunner(ctx, j.RunnerID, now); err != nil {
					return fmt.Errorf("monitor: %w", err)
				}
				seen[j.RunnerID] = v
			}
			if err := d.recoverIf(ctx, j, v, res); err != nil {
				return fmt.Errorf("monitor: %w", err)
			}
		}
	}
	return nil
}

// runnerView is a runner's record as the monitor read it, and whether the
// runner is lost.
type runnerView struct {
	r    ci.Runner
	lost bool
}

// viewRunner reads runner id afresh: lost when it is gone from the registry,
// offline, or silent past the lease (a heartbeat may have come since the
// runner list was read).
func (d *Dispatcher) viewRunner(ctx context.Context, id string, now time.Time) (runnerView, error) {
	r, err := d.store.GetRunner(ctx, id)
	if errors.Is(err, ci.ErrNotFound) {
		return runnerView{lost: true}, nil
	}
	if err != nil {
		return runnerView{}, err
	}
	return runnerView{r: r, lost: r.State == ci.RunnerOffline || now.Sub(r.LastHeartbeat) > d.cfg.Lease}, nil
}

// recoverIf recovers j when its runner (as v) is lost or disowns it.
func (d *Dispatcher) recoverIf(ctx context.Context, j ci.Job, v runnerView, res *MonitorResult) error {
	switch {
	case v.lost:
		return d.recoverJob(ctx, j, fmt.Sprintf("runner %s lost", j.RunnerID), nil, res)
	case d.disowned(v.r, j):
		still := func(cur ci.Job) bool { return d.disowned(v.r, cur) }
		return d.recoverJob(ctx, j, disownedWhy(v.r), still, res)
	}
	return nil
}

// recoverJob requeues j, whose runner is lost or does not hold it, with the
// reason why, or ends it after MaxAttempts. The change is conditional on the
// job being as j was (status, attempt, runner) and, when still is set, on
// still holding for the job as stored.
func (d *Dispatcher) recoverJob(ctx context.Context, j ci.Job, why string, still func(ci.Job) bool, res *MonitorResult) error {
	job, ok, err := d.update(ctx, j.ID, func(cur *ci.Job) error {
		if cur.Status != j.Status || cur.Attempt != j.Attempt || cur.RunnerID != j.RunnerID {
			return errGone
		}
		if still != nil && !still(*cur) {
			return errGone
		}
		if cur.Attempt >= d.cfg.MaxAttempts {
			return d.end(cur, ci.StatusError, fmt.Sprintf("runner lost %d times", cur.Attempt))
		}
		return requeue(cur, why)
	})
	if err != nil || !ok {
		return err
	}
	d.log.Warn("job's runner lost", "job_id", j.ID, "runner_id", j.RunnerID,
		"attempt", j.Attempt, "status", job.Status, "reason", why)
	if job.Status == ci.StatusQueued {
		res.JobsRequeued++
		d.publishJob(ctx, job)
	} else {
		res.JobsLost++
	}
	d.adjustRunner(ctx, j.RunnerID, func(r *ci.Runner) { r.Failures++ })
	d.report(ctx, job)
	return nil
}

// timeouts ends the jobs past their deadline.
func (d *Dispatcher) timeouts(ctx context.Context, now time.Time, res *MonitorResult) error {
	for _, s := range []ci.Status{ci.StatusQueued, ci.StatusAssigned, ci.StatusRunning} {
		jobs, err := d.listJobs(ctx, s)
		if err != nil {
			return fmt.Errorf("monitor: %w", err)
		}
		for _, j := range jobs {
			deadline, why := d.deadline(j)
			if now.Before(deadline) {
				continue
			}
			if err := d.timeOut(ctx, j, why, res); err != nil {
				return fmt.Errorf("monitor: %w", err)
			}
		}
	}
	return nil
}

// deadline is when j times out, and the reason it then ends with.
func (d *Dispatcher) deadline(j ci.Job) (time.Time, string) {
	if j.Status == ci.StatusRunning {
		start := j.StartedAt
		if start.IsZero() {
			start = j.CreatedAt
		}
		limit := d.runLimit(j)
		return start.Add(limit), fmt.Sprintf("timed out after %v running", limit)
	}
	limit := time.Duration(max(j.Attempt, 1)) * d.cfg.JobTimeout
	return j.CreatedAt.Add(limit), fmt.Sprintf("timed out after %v waiting for a runner", limit)
}

// runLimit is how long a running job may run: the timeout its runner
// reported plus Config.TimeoutGrace, at most Config.MaxJobTimeout; or
// Config.JobTimeout while none was reported.
func (d *Dispatcher) runLimit(j ci.Job) time.Duration {
	if j.TimeoutSeconds <= 0 {
		return d.cfg.JobTimeout
	}
	limit := time.Duration(min(j.TimeoutSeconds, int64(d.cfg.MaxJobTimeout/time.Second))) * time.Second
	return min(limit+d.cfg.TimeoutGrace, d.cfg.MaxJobTimeout)
}

// timeOut ends j in error with why and cancels it on its runner.
func (d *Dispatcher) timeOut(ctx context.Context, j ci.Job, why string, res *MonitorResult) error {
	job, ok, err := d.update(ctx, j.ID, d.endFrom(j, ci.StatusError, why))
	if err != nil || !ok {
		return err
	}
	res.JobsTimedOut++
	d.log.Warn("job timed out", "job_id", j.ID, "status", j.Status, "reason", why)
	d.report(ctx, job)
	d.cancelOnID(ctx, job.RunnerID, job.ID)
	return nil
}
