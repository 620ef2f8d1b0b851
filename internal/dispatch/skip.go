package dispatch

import (
	"context"
	"log/slog"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// PipelineFilter reads what the dispatcher needs of a job's narwhal.yml
// before the job runs. Skip returns why the pipeline does not run for the
// job ("no matching paths"), "" when it runs; a pipeline that cannot be read
// runs (its runner reports the problem). CancelSuperseded returns the
// pipeline's cancel_superseded, nil when it sets none. An error means the
// answer cannot be had now (GitHub unreachable) and may be later.
// *github.ConfigFetcher is one; it is safe for concurrent use.
type PipelineFilter interface {
	Skip(ctx context.Context, job ci.Job) (string, error)
	CancelSuperseded(ctx context.Context, job ci.Job) (*bool, error)
}

// skipped asks the filter about job within Config.FetchTimeout: skip is why
// the job does not run, wait why it cannot be told now.
func (d *Dispatcher) skipped(ctx context.Context, log *slog.Logger, job ci.Job) (skip, wait string) {
	if d.filter == nil {
		return "", ""
	}
	fctx, cancel := context.WithTimeout(ctx, d.cfg.FetchTimeout)
	defer cancel()
	skip, err := d.filter.Skip(fctx, job)
	if err != nil {
		log.Warn("cannot tell whether the pipeline runs; the job waits", "err", err)
		return "", "cannot read narwhal.yml: " + err.Error()
	}
	return skip, ""
}

// skip ends queued job as skipped for the reason why.
func (d *Dispatcher) skip(ctx context.Context, log *slog.Logger, job ci.Job, why string) error {
	ended, ok, err := d.update(ctx, job.ID, func(j *ci.Job) error {
		if j.Status != ci.StatusQueued || j.Attempt != job.Attempt {
			return errGone
		}
		return d.end(j, ci.StatusSkipped, why)
	})
	if err != nil || !ok {
		return err
	}
	log.Info("job skipped", "reason", why)
	d.report(ctx, ended)
	return nil
}
