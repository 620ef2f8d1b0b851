// Package writeback is a ci.Store that, during a pass over one batch of
// runner reports, keeps every job it reads and changes in memory and writes
// each changed job once at the end: the reports of a job that arrive
// together (accepted, running, each step, finished) cost one conditional
// write instead of one each, and the runner records they check one read.
// Outside a pass it is the store beneath, unchanged.
//
// Call order: Begin, then the handlers (GetJob, UpdateJob, GetRunner, ...
// as usual), then Flush, or Discard when a handler failed. Flush writes
// each changed job with UpdateJob conditional on the version read at the
// start of the pass, so a job another process changed in between fails the
// flush with ci.ErrConflict: the batch is then handed back (the MQ event
// source redelivers it) and applied message by message, as a redelivered
// batch always is. Writes made during a pass are visible to the pass only;
// what the handlers do besides the store (a commit status, a message) may
// run ahead of the write that Flush makes.
//
// A Store is safe for concurrent use; one pass runs at a time.
package writeback

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// Store wraps a ci.Store; the zero value is not usable, call New.
type Store struct {
	ci.Store

	mu      sync.Mutex
	pass    bool
	jobs    map[string]*entry
	runners map[string]ci.Runner
}

// entry is a job in a pass: as read from the store and as changed since.
type entry struct {
	read, now ci.Job
	dirty     bool
}

var _ ci.Store = (*Store)(nil)

// New wraps s.
func New(s ci.Store) *Store { return &Store{Store: s} }

// Begin starts a pass.
func (s *Store) Begin() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pass, s.jobs, s.runners = true, map[string]*entry{}, map[string]ci.Runner{}
}

// Discard ends the pass without writing what it changed.
func (s *Store) Discard() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pass, s.jobs, s.runners = false, nil, nil
}

// Flush ends the pass and writes every job it changed, each with one
// UpdateJob conditional on the version the pass read; it returns how many
// it wrote and the errors of those it could not.
func (s *Store) Flush(ctx context.Context) (int, error) {
	s.mu.Lock()
	jobs := s.jobs
	s.pass, s.jobs, s.runners = false, nil, nil
	s.mu.Unlock()
	var errs []error
	n := 0
	for _, e := range jobs {
		if !e.dirty {
			continue
		}
		j := e.now
		j.Version = e.read.Version
		if _, err := s.Store.UpdateJob(ctx, j); err != nil {
			errs = append(errs, fmt.Errorf("write back: %w", err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
