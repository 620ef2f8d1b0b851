package intake

import (
	"context"
	"errors"
	"fmt"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// PublishMarker is what a store may offer beside ci.Store to record
// confirmed publishes in one write, without a read-modify-write per job. The
// intake uses it when its Store has it (the SQLite store does) and falls back
// to ci.UpdateFrom otherwise (the DynamoDB store).
//
// Contract: MarkPublished sets Published on each job stored with a message's
// JobID and Attempt and Published false, moving its Version and UpdatedAt on
// as UpdateJob does; a job already published, on another attempt (requeued
// since: that attempt's message is not the confirmed one) or unknown is left
// as it is, which is not an error. It is safe for concurrent use, honours
// ctx, and is idempotent: calling it again with the same messages changes
// nothing. An error means none or only some of the marks were written; the
// caller may call again, and a mark that stays unwritten costs at most a
// second publish by Sweep.
type PublishMarker interface {
	MarkPublished(ctx context.Context, msgs []ci.JobMessage) error
}

// markAccepted records that Accept's publish of j was confirmed: with the
// store's marker, coalesced with the marks of concurrent Accepts.
func (in *Intake) markAccepted(ctx context.Context, j ci.Job) error {
	m, ok := in.Store.(PublishMarker)
	if !ok {
		return in.markOne(ctx, j)
	}
	msg := ci.JobMessage{JobID: j.ID, Attempt: j.Attempt}
	if in.MarkLater {
		in.later.add(m, msg, in.logger())
		return nil
	}
	if err := in.marks.mark(ctx, m, msg); err != nil {
		return fmt.Errorf("mark job %s published: %w", j.ID, err)
	}
	return nil
}

// markPublished records that the messages of jobs were confirmed.
func (in *Intake) markPublished(ctx context.Context, jobs ...ci.Job) error {
	if m, ok := in.Store.(PublishMarker); ok {
		return in.markBatch(ctx, m, jobs)
	}
	for _, j := range jobs {
		if err := in.markOne(ctx, j); err != nil {
			return err
		}
	}
	return nil
}

// markBatch marks jobs published with one call of the store's marker.
func (in *Intake) markBatch(ctx context.Context, m PublishMarker, jobs []ci.Job) error {
	msgs := make([]ci.JobMessage, len(jobs))
	for i, j := range jobs {
		msgs[i] = ci.JobMessage{JobID: j.ID, Attempt: j.Attempt}
	}
	if err := m.MarkPublished(ctx, msgs); err != nil {
		return fmt.Errorf("mark %s published: %w", jobList(jobs), err)
	}
	return nil
}

// markOne sets Published on the stored job, unless it is set already or the
// job has moved to another attempt (whose message is not ours).
func (in *Intake) markOne(ctx context.Context, published ci.Job) error {
	_, err := ci.UpdateFrom(ctx, in.Store, published, func(j *ci.Job) error {
		if j.Published || j.Attempt != published.Attempt {
			return errUnchanged
		}
		j.Published = true
		return nil
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		return fmt.Errorf("mark job %s published: %w", published.ID, err)
	}
	return nil
}

// jobList names jobs for an error: "job X", or "N jobs (X, ...)".
func jobList(jobs []ci.Job) string {
	switch len(jobs) {
	case 0:
		return "no jobs"
	case 1:
		return "job " + jobs[0].ID
	}
	return fmt.Sprintf("%d jobs (%s, ...)", len(jobs), jobs[0].ID)
}
