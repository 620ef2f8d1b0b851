package ci

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// Store keeps jobs and runners. It is the source of truth: queue messages and
// RPCs carry IDs, and every state change goes through a conditional write here.
//
// Contract, for every implementation (see the contract suite in
// internal/store/storetest):
//   - All methods are safe for concurrent use and honour ctx cancellation.
//   - CreateJob is conditional: when the ID exists it stores nothing and
//     returns an error matching ErrExists. On success the stored job has
//     Version 1, CreatedAt/UpdatedAt set when they were zero, and Number one
//     more than the last its repository was given (1 for the first),
//     whatever j.Number was: numbers of a repository only grow, and a create
//     refused with ErrExists takes none. UpdateJob keeps a job's Number.
//   - UpdateJob is a compare-and-swap on Version: it writes j only when the
//     stored version equals j.Version, and returns the stored job with Version
//     incremented and UpdatedAt set. A stale version gives ErrConflict; an
//     unknown ID gives ErrNotFound. It does not check the state machine: use
//     Update (below), which does.
//   - GetJob and GetRunner return ErrNotFound for unknown IDs.
//   - ListJobs returns newest first (CreatedAt, then ID, descending), at most
//     Limit items, and a Cursor that continues after the last one ("" when
//     there is no more). The cursor is opaque.
//   - ListUnpublished returns queued jobs with Published=false created before
//     the given time, oldest first: the intake sweeper republishes them.
//   - PutRunner upserts by ID. ListRunners returns every runner sorted by ID.
type Store interface {
	CreateJob(ctx context.Context, j Job) (Job, error)
	GetJob(ctx context.Context, id string) (Job, error)
	UpdateJob(ctx context.Context, j Job) (Job, error)
	ListJobs(ctx context.Context, f JobFilter) (JobPage, error)
	ListUnpublished(ctx context.Context, before time.Time, limit int) ([]Job, error)

	PutRunner(ctx context.Context, r Runner) error
	GetRunner(ctx context.Context, id string) (Runner, error)
	ListRunners(ctx context.Context) ([]Runner, error)
	DeleteRunner(ctx context.Context, id string) error
}

// JobFilter selects jobs for ListJobs. Repo and Status may be combined;
// Branch and IDPrefix narrow further. Zero values select everything.
type JobFilter struct {
	Repo   string
	Status Status
	Branch string
	// IDPrefix keeps the jobs whose ID starts with it: how a short ID that a
	// person typed is resolved (the CLI asks for two and wants exactly one).
	IDPrefix string
	// Number, with Repo, keeps the job of that build number (REPO#N).
	Number int
	Limit  int    // 0 means 50; implementations cap it at 200
	Cursor string // from a previous JobPage
}

// JobPage is one page of ListJobs.
type JobPage struct {
	Jobs   []Job  `json:"jobs"`
	Cursor string `json:"cursor,omitempty"`
}

// Update reads job id, applies change to it and writes it back conditionally,
// retrying on ErrConflict until ctx ends. change may return an error (an
// *IllegalTransitionError from Job.Move, say) to abort without writing; it may
// be called more than once and must not have side effects.
//
// When the store refuses the changed job as too large (ErrTooLarge), the
// change is lost and the job would fail every later update, so Update ends
// it instead: it writes the stored job shrunk by EndTooLarge (in error with
// TooLargeError unless it was final) and returns that job with an error
// matching ErrTooLarge.
func Update(ctx context.Context, s Store, id string, change func(*Job) error) (Job, error) {
	j, err := update(ctx, s, id, change)
	if !errors.Is(err, ErrTooLarge) {
		return j, err
	}
	ended, endErr := endTooLarge(ctx, s, id)
	if endErr != nil {
		return Job{}, errors.Join(err, endErr)
	}
	return ended, err
}

// UpdateFrom is Update starting from cur, the job as the caller last read or
// wrote it: when nobody changed it since, that saves the read. A lost race
// (or a change that does not apply to cur) goes through Update, which reads
// it again.
func UpdateFrom(ctx context.Context, s Store, cur Job, change func(*Job) error) (Job, error) {
	j := cur
	if change(&j) == nil {
		updated, err := s.UpdateJob(ctx, j)
		if err == nil || !errors.Is(err, ErrConflict) && !errors.Is(err, ErrTooLarge) {
			return updated, err
		}
	}
	return Update(ctx, s, cur.ID, change)
}

// update is Update without the ErrTooLarge handling.
func update(ctx context.Context, s Store, id string, change func(*Job) error) (Job, error) {
	for attempt := 0; ; attempt++ {
		j, err := s.GetJob(ctx, id)
		if err != nil {
			return Job{}, err
		}
		if err := change(&j); err != nil {
			return j, err
		}
		updated, err := s.UpdateJob(ctx, j)
		if err == nil || !errors.Is(err, ErrConflict) {
			return updated, err
		}
		select {
		case <-ctx.Done():
			return Job{}, context.Cause(ctx)
		case <-time.After(backoff(attempt)):
		}
	}
}

// backoff is the pause before retry attempt n of a lost compare-and-swap:
// exponential from 2 ms up to 200 ms, with full jitter so that writers that
// collided do not collide again in lockstep.
func backoff(n int) time.Duration {
	ceiling := min(2*time.Millisecond<<min(n, 7), 200*time.Millisecond)
	return time.Duration(rand.Int64N(int64(ceiling))) + time.Millisecond
}
