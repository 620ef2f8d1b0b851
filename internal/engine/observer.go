package engine

import (
	"slices"
	"sync"
	"time"

	"github.com/narwhal-ci/narwhal/internal/logsink"
)

// Observer follows a job as it runs. The engine serialises all calls for a
// job (one at a time, never concurrently, even for steps running in
// parallel), so an Observer need not be safe for concurrent use; calls
// should return quickly, as steps' output waits for them.
//
// Order: for a step that runs, StepStarted, then its Log lines, then
// StepFinished; a step that never runs (skipped, cancelled before it started)
// gets only StepFinished. Lines of parallel steps interleave. JobFinished
// comes last, once, before the executor's Teardown.
type Observer interface {
	StepStarted(step string, at time.Time)
	// Log receives one line of the step's output, masked, without its
	// newline. line is only valid during the call.
	Log(step string, line []byte)
	StepFinished(step string, r StepResult)
	JobFinished(r Report)
}

// serialObserver forwards to an Observer (which may be nil) under a mutex,
// with the secrets masked in step names (a name is the pipeline author's
// text, which may quote a secret's value).
type serialObserver struct {
	mu     sync.Mutex
	obs    Observer
	names  *logsink.Masker
	masked map[string]string // step name → masked, so that a log line costs no masking of its step; guarded by mu
}

// name is step with the secrets masked. s.mu is held.
func (s *serialObserver) name(step string) string {
	if s.names == nil {
		return step
	}
	if m, ok := s.masked[step]; ok {
		return m
	}
	if s.masked == nil {
		s.masked = map[string]string{}
	}
	m := s.names.String(step)
	s.masked[step] = m
	return m
}

func (s *serialObserver) StepStarted(step string, at time.Time) {
	if s.obs == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.obs.StepStarted(s.name(step), at)
}

func (s *serialObserver) Log(step string, line []byte) {
	if s.obs == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.obs.Log(s.name(step), line)
}

func (s *serialObserver) StepFinished(step string, r StepResult) {
	if s.obs == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r.Name = s.name(r.Name)
	s.obs.StepFinished(s.name(step), r)
}

func (s *serialObserver) JobFinished(r Report) {
	if s.obs == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.names != nil {
		r.Error = s.names.String(r.Error) // an invalid pipeline's error names its steps
	}
	r.Steps = slices.Clone(r.Steps)
	for i := range r.Steps {
		r.Steps[i].Name = s.name(r.Steps[i].Name)
	}
	s.obs.JobFinished(r)
}
