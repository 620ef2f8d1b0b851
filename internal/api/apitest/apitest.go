// Package apitest holds a hand-written api.Operations for tests of the API
// and of its clients: it applies cancel, resubmit and drain to a ci.Store
// directly, the way the dispatcher's bookkeeping does, with no queue, runner
// or RPC behind it.
package apitest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/narwhal-ci/narwhal/internal/api"
	"github.com/narwhal-ci/narwhal/internal/ci"
)

// Ops is an api.Operations over a ci.Store. It is safe for concurrent use.
type Ops struct {
	store ci.Store

	mu    sync.Mutex
	nonce int
	calls []string
}

var _ api.Operations = (*Ops)(nil)

// New returns Ops that change jobs and runners in s.
func New(s ci.Store) *Ops { return &Ops{store: s} }

// Calls returns the calls made so far, as "cancel ID", "resubmit ID" and
// "drain ID", oldest first.
func (o *Ops) Calls() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.calls...)
}

func (o *Ops) record(op, id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, op+" "+id)
}

// Cancel moves the job to cancelled; a finished job gives an
// *ci.IllegalTransitionError, an unknown one ci.ErrNotFound.
func (o *Ops) Cancel(ctx context.Context, id string) (ci.Job, error) {
	o.record("cancel", id)
	return ci.Update(ctx, o.store, id, func(j *ci.Job) error {
		if err := j.Move(ci.StatusCancelled); err != nil {
			return err
		}
		j.FinishedAt = time.Now().UTC()
		return nil
	})
}

// Resubmit creates a queued copy of a finished job with a fresh ID and
// ParentID set, re-running it from fromStep as ci.PlanResume plans (with
// snapshots kept 24h); a job that has not finished gives an
// *ci.IllegalTransitionError (to queued).
func (o *Ops) Resubmit(ctx context.Context, id, fromStep string) (ci.Job, error) {
	o.record("resubmit", id)
	old, err := o.store.GetJob(ctx, id)
	if err != nil {
		return ci.Job{}, err
	}
	if !old.Status.Final() {
		return ci.Job{}, &ci.IllegalTransitionError{JobID: id, From: old.Status, To: ci.StatusQueued}
	}
	var resume *ci.Resume
	if fromStep != "" {
		if resume, err = ci.PlanResume(old, fromStep, time.Now(), 24*time.Hour); err != nil {
			return ci.Job{}, err
		}
	}
	for {
		j := ci.Job{ID: ci.JobID(old.Repo, old.SHA, ci.EventManual, o.next()), Repo: old.Repo,
			CloneURL: old.CloneURL, SHA: old.SHA, Ref: old.Ref, Branch: old.Branch, Event: ci.EventManual,
			Author: old.Author, Message: old.Message, Labels: old.Labels,
			Status: ci.StatusQueued, Attempt: 1, ParentID: old.ID, Resume: resume}
		created, err := o.store.CreateJob(ctx, j)
		if !errors.Is(err, ci.ErrExists) {
			return created, err
		}
	}
}

func (o *Ops) next() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.nonce++
	return o.nonce
}

// Drain marks the runner draining; an unknown runner gives ci.ErrNotFound.
func (o *Ops) Drain(ctx context.Context, runnerID string) error {
	o.record("drain", runnerID)
	r, err := o.store.GetRunner(ctx, runnerID)
	if err != nil {
		return err
	}
	r.State = ci.RunnerDraining
	if err := o.store.PutRunner(ctx, r); err != nil {
		return fmt.Errorf("drain runner %s: %w", runnerID, err)
	}
	return nil
}
