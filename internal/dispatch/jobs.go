package dispatch

import (
	"context"
	"errors"
	"fmt"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// Sentinels that abort a ci.Update without writing.
var (
	// errGone: the job is no longer in the state the change was meant for
	// (another dispatcher, a report or a user moved it): leave it alone.
	errGone = errors.New("job moved on")
	// errUnchanged: the job already is as the change would make it.
	errUnchanged = errors.New("job unchanged")
)

// update applies change to job id with ci.Update. It reports whether it
// wrote: errGone and errUnchanged from change mean no write and no error.
func (d *Dispatcher) update(ctx context.Context, id string, change func(*ci.Job) error) (ci.Job, bool, error) {
	j, err := ci.Update(ctx, d.store, id, change)
	return updated(id, j, err)
}

// updateKnown is update from cur, the job as this handler read it, with
// ci.UpdateFrom: when nobody changed it since, that saves a read.
func (d *Dispatcher) updateKnown(ctx context.Context, cur ci.Job, change func(*ci.Job) error) (ci.Job, bool, error) {
	j, err := ci.UpdateFrom(ctx, d.store, cur, change)
	return updated(cur.ID, j, err)
}

// updated is the outcome of update and updateKnown.
func updated(id string, j ci.Job, err error) (ci.Job, bool, error) {
	switch {
	case errors.Is(err, errGone) || errors.Is(err, errUnchanged):
		return j, false, nil
	case err != nil:
		return j, false, fmt.Errorf("update job %s: %w", id, err)
	}
	return j, true, nil
}

// versionReader is what a Store may offer beside ci.Store (the SQLite store
// does): the Version a job is stored at, without reading the job whole.
type versionReader interface {
	JobVersion(ctx context.Context, id string) (int64, error)
}

// reread returns job id as stored now, given known, the job as this handler
// last wrote it: known itself when its version is still the stored one (the
// store writes every change with a new version), else the job read afresh.
func (d *Dispatcher) reread(ctx context.Context, known ci.Job) (ci.Job, error) {
	if vr, ok := d.store.(versionReader); ok {
		v, err := vr.JobVersion(ctx, known.ID)
		if err != nil {
			return ci.Job{}, err
		}
		if v == known.Version {
			return known, nil
		}
	}
	return d.store.GetJob(ctx, known.ID)
}

// requeueSame moves an assigned job back to queued for another runner of the
// same attempt. Job.Move(queued) counts a new attempt and marks the job
// unpublished, which is right when a runner was lost; a runner that refused
// the job (or could not be reached) ran nothing, so the attempt and the
// Published mark (the message being handled is still live) are restored.
func requeueSame(j *ci.Job) error {
	attempt, published := j.Attempt, j.Published
	if err := j.Move(ci.StatusQueued); err != nil {
		return err
	}
	j.Attempt, j.Published = attempt, published
	return nil
}

// requeue moves an assigned or running job to queued for a new attempt
// (Job.Move counts it) with a reason for people.
func requeue(j *ci.Job, why string) error {
	if err := j.Move(ci.StatusQueued); err != nil {
		return err
	}
	j.Waiting = why
	return nil
}

// publishJob publishes the message of the job's current attempt and marks it
// published. A failed publish is logged, not returned: the job stays
// unpublished and the intake sweeper (run by Monitor) publishes it later.
func (d *Dispatcher) publishJob(ctx context.Context, j ci.Job) {
	if err := d.queue.Publish(ctx, ci.NewJobMessage(j)); err != nil {
		d.log.Warn("publish requeued job; the sweeper will retry", "job_id", j.ID, "attempt", j.Attempt, "err", err)
		return
	}
	_, _, err := d.update(ctx, j.ID, func(cur *ci.Job) error {
		if cur.Published || cur.Attempt != j.Attempt || cur.Status != ci.StatusQueued {
			return errUnchanged
		}
		cur.Published = true
		return nil
	})
	if err != nil {
		d.log.Warn("mark job published; the sweeper may publish it again", "job_id", j.ID, "err", err)
	}
}

// listJobs returns every job in status s, following the cursor.
func (d *Dispatcher) listJobs(ctx context.Context, s ci.Status) ([]ci.Job, error) {
	var jobs []ci.Job
	f := ci.JobFilter{Status: s, Limit: 200}
	for {
		page, err := d.store.ListJobs(ctx, f)
		if err != nil {
			return jobs, fmt.Errorf("list %s jobs: %w", s, err)
		}
		jobs = append(jobs, page.Jobs...)
		if page.Cursor == "" {
			return jobs, nil
		}
		f.Cursor = page.Cursor
	}
}
