package dispatch

import (
	"context"
	"log/slog"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// PipelineFilter reads what the dispatcher needs of a job's narwhal.yml
// before the job runs. Changes returns the job's changed files, completed
// (by a diff) when the pipeline filters on paths and the webhook did not
// list them all; the dispatcher stores them on the job for the runner. Skip
// returns why the pipeline does not run for the job ("no matching paths"),
// "" when it runs; a pipeline that cannot be read runs (its runner reports
// the problem). CancelSuperseded returns the pipeline's cancel_superseded,
// nil when it sets none. An error means the answer cannot be had now
// (GitHub unreachable) and may be later. *github.ConfigFetcher is one; it is
// safe for concurrent use.
type PipelineFilter interface {
	Changes(ctx context.Context, job ci.Job) (ci.Changes, error)
	Skip(ctx context.Context, job ci.Job) (string, error)
	CancelSuperseded(ctx context.Context, job ci.Job) (*bool, error)
}

// skipped asks the filter about job within Config.FetchTimeout, after
// storing the job's changed files when the filter completed them: skip is
// why the job does not run, wait why it cannot be told now.
func (d *Dispatcher) skipped(ctx context.Context, log *slog.Logger, job ci.Job) (skip, wait string) {
	if d.filter == nil {
		return "", ""
	}
	fctx, cancel := context.WithTimeout(ctx, d.cfg.FetchTimeout)
	defer cancel()
	job, err := d.completeChanges(fctx, job)
	if err == nil {
		skip, err = d.filter.Skip(fctx, job)
	}
	if err != nil {
		log.Warn("cannot tell whether the pipeline runs; the job waits", "err", err)
		return "", "cannot read narwhal.yml: " + err.Error()
	}
	return skip, ""
}

// completeChanges stores on job the changed files the filter completed, so
// that its runner can apply the steps' path filters, and returns job with
// them.
func (d *Dispatcher) completeChanges(ctx context.Context, job ci.Job) (ci.Job, error) {
	changes, err := d.filter.Changes(ctx, job)
	if err != nil || !changes.Known || job.Changes.Known {
		return job, err
	}
	job.Changes = changes
	_, _, err = d.update(ctx, job.ID, func(j *ci.Job) error {
		if j.Status != ci.StatusQueued || j.Attempt != job.Attempt {
			return errGone
		}
		j.Changes = changes
		return nil
	})
	return job, err
}

// endFrom is the change that ends a job still in from's state and attempt
// as s, for the reason why (errGone when it moved on).
func (d *Dispatcher) endFrom(from ci.Job, s ci.Status, why string) func(*ci.Job) error {
	return func(j *ci.Job) error {
		if j.Status != from.Status || j.Attempt != from.Attempt {
			return errGone
		}
		return d.end(j, s, why)
	}
}

// skip ends queued job as skipped for the reason why.
func (d *Dispatcher) skip(ctx context.Context, log *slog.Logger, job ci.Job, why string) error {
	ended, ok, err := d.update(ctx, job.ID, d.endFrom(job, ci.StatusSkipped, why))
	if err != nil || !ok {
		return err
	}
	log.Info("job skipped", "reason", why)
	d.report(ctx, ended)
	return nil
}
