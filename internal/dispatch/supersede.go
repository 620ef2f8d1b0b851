package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// supersedeRounds bounds the pages of one status supersede reads (of at
// most 200 jobs each): unfinished jobs of one branch are few.
const supersedeRounds = 5

// superseding are the states of a job that a newer one may cancel.
var superseding = []ci.Status{ci.StatusQueued, ci.StatusAssigned, ci.StatusRunning}

// SupersededPrefix starts the Error of a job cancelled by a newer one of its
// branch or pull request: "superseded by <job ID>".
const SupersededPrefix = "superseded by "

// supersede cancels the older unfinished jobs that job makes pointless
// (Supersedes), when its pipeline or the deployment asks for it
// (cancelSuperseded): queued ones before they run, the others through
// Cancel's path (the runner is asked to stop). It runs when a job is first
// handled; redone on a redelivery it changes nothing more.
func (d *Dispatcher) supersede(ctx context.Context, log *slog.Logger, job ci.Job) error {
	if job.Attempt != 1 || job.Waiting != "" || !d.cancelSuperseded(ctx, log, job) {
		return nil
	}
	older, err := d.olderActive(ctx, job)
	if err != nil {
		return fmt.Errorf("find superseded jobs: %w", err)
	}
	for _, old := range older {
		_, err := d.cancel(ctx, old.ID, SupersededPrefix+job.ID)
		if err != nil && !errors.Is(err, ErrJobFinished) {
			return fmt.Errorf("cancel superseded job %s: %w", old.ID, err)
		}
	}
	return nil
}

// cancelSuperseded says whether job cancels the older jobs of its lane: its
// pipeline's cancel_superseded, else on for a pull request and
// Config.CancelSupersededPushes for a push. Tag and manual jobs never do.
func (d *Dispatcher) cancelSuperseded(ctx context.Context, log *slog.Logger, job ci.Job) bool {
	if job.Event != ci.EventPush && job.Event != ci.EventPullRequest {
		return false
	}
	if d.filter != nil {
		fctx, cancel := context.WithTimeout(ctx, d.cfg.FetchTimeout)
		defer cancel()
		set, err := d.filter.CancelSuperseded(fctx, job)
		if err != nil {
			log.Warn("cannot read cancel_superseded; the deployment's setting holds", "err", err)
		}
		if set != nil {
			return *set
		}
	}
	return job.Event == ci.EventPullRequest || d.cfg.CancelSupersededPushes
}

// olderActive lists the unfinished jobs that job supersedes.
func (d *Dispatcher) olderActive(ctx context.Context, job ci.Job) ([]ci.Job, error) {
	var older []ci.Job
	for _, st := range superseding {
		f := ci.JobFilter{Repo: job.Repo, Status: st, Branch: job.Branch, Limit: 200}
		for range supersedeRounds {
			page, err := d.store.ListJobs(ctx, f)
			if err != nil {
				return nil, err
			}
			for _, old := range page.Jobs {
				if Supersedes(job, old) {
					older = append(older, old)
				}
			}
			if f.Cursor = page.Cursor; f.Cursor == "" {
				break
			}
		}
	}
	return older, nil
}

// Supersedes reports whether newer makes old pointless: old is an unfinished
// job of the same repository created before newer, and both are pushes to
// the same branch or both runs of the same pull request. Tag and manual jobs
// neither supersede nor are superseded.
func Supersedes(newer, old ci.Job) bool {
	switch {
	case old.ID == newer.ID, old.Status.Final(), old.Repo != newer.Repo,
		old.Event != newer.Event, !old.CreatedAt.Before(newer.CreatedAt):
		return false
	case newer.Event == ci.EventPush:
		return old.Ref == newer.Ref
	case newer.Event == ci.EventPullRequest:
		return old.PR == newer.PR
	}
	return false
}
