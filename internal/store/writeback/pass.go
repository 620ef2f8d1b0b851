package writeback

import (
	"context"
	"fmt"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/store"
)

// GetJob returns the job, from the pass once it has read it.
func (s *Store) GetJob(ctx context.Context, id string) (ci.Job, error) {
	if e, ok := s.cached(id); ok {
		return e.now, nil
	}
	j, err := s.Store.GetJob(ctx, id)
	if err != nil {
		return j, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.pass {
		return j, nil
	}
	if e, ok := s.jobs[id]; ok { // read twice at once: keep the first
		return e.now, nil
	}
	s.jobs[id] = &entry{read: j, now: j}
	return j, nil
}

// UpdateJob changes the job in the pass (as the store would: conditional
// on j.Version, Version+1, UpdatedAt now), or in the store outside one.
func (s *Store) UpdateJob(ctx context.Context, j ci.Job) (ci.Job, error) {
	if !s.inPass() {
		return s.Store.UpdateJob(ctx, j)
	}
	if _, err := s.GetJob(ctx, j.ID); err != nil { // into the pass first
		return ci.Job{}, fmt.Errorf("update job %s: %w", j.ID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.jobs[j.ID]
	if !ok {
		return ci.Job{}, fmt.Errorf("update job %s: the pass ended during the update", j.ID)
	}
	if j.Version != e.now.Version {
		return ci.Job{}, fmt.Errorf("update job %s: %w", j.ID, ci.ErrConflict)
	}
	next, err := store.PrepareUpdate(j, time.Now())
	if err != nil {
		return ci.Job{}, err
	}
	e.now, e.dirty = next, true
	return next, nil
}

func (s *Store) inPass() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pass
}

func (s *Store) cached(id string) (*entry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.jobs[id]
	return e, ok && s.pass
}

// GetRunner returns the runner, read once per pass.
func (s *Store) GetRunner(ctx context.Context, id string) (ci.Runner, error) {
	s.mu.Lock()
	r, ok := s.runners[id]
	s.mu.Unlock()
	if ok {
		return r, nil
	}
	r, err := s.Store.GetRunner(ctx, id)
	if err != nil {
		return r, err
	}
	s.remember(r)
	return r, nil
}

// PutRunner writes the runner through, and the pass sees the new record.
func (s *Store) PutRunner(ctx context.Context, r ci.Runner) error {
	if err := s.Store.PutRunner(ctx, r); err != nil {
		return err
	}
	s.remember(r)
	return nil
}

// DeleteRunner deletes the runner through, and from the pass.
func (s *Store) DeleteRunner(ctx context.Context, id string) error {
	s.mu.Lock()
	delete(s.runners, id)
	s.mu.Unlock()
	return s.Store.DeleteRunner(ctx, id)
}

func (s *Store) remember(r ci.Runner) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pass {
		s.runners[r.ID] = r
	}
}
