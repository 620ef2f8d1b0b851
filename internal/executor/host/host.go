// Package host is an executor.Executor that runs steps directly on the
// runner's machine with /bin/sh, for machines without Docker. It gives no
// isolation: steps run as the runner's user and can read and change
// anything that user can. Images are ignored, and jobs with services are
// refused. Steps run in the workspace at its host path (job.Workspace), not at
// executor.Workdir, with HOME and TMPDIR in a per-job temporary directory
// that Teardown removes.
package host

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/narwhal-ci/narwhal/internal/executor"
	"github.com/narwhal-ci/narwhal/internal/workspace"
)

// DefaultGracePeriod is how long a stopped step has between SIGTERM and
// SIGKILL unless WithGracePeriod says otherwise.
const DefaultGracePeriod = 10 * time.Second

// Executor runs the steps of many jobs concurrently as host processes. Each
// step's shell leads its own session and process group; every process left
// in that session is killed when the step ends, so background processes do
// not outlive their step (as in a container). Only a process that starts a
// session of its own (setsid, daemons) escapes.
type Executor struct {
	logger  *slog.Logger
	grace   time.Duration
	homeDir string // where per-job homes are made; "" is os.TempDir()

	mu   sync.Mutex
	jobs map[string]*jobState
}

var _ executor.Executor = (*Executor)(nil)

// jobState is what Setup made for one job and the steps still running.
type jobState struct {
	home     string
	mu       sync.Mutex
	sessions map[int]struct{} // session IDs of running steps
	closed   bool             // torn down: no new step may start
}

// Option configures an Executor.
type Option func(*Executor)

// WithGracePeriod sets how long a step may take to exit after SIGTERM before
// its processes are killed with SIGKILL (default DefaultGracePeriod).
func WithGracePeriod(d time.Duration) Option { return func(e *Executor) { e.grace = d } }

// WithHomeDir sets the directory under which each job gets its temporary
// HOME (default os.TempDir()).
func WithHomeDir(dir string) Option { return func(e *Executor) { e.homeDir = dir } }

// New returns a host executor. Steps run directly on this machine with NO
// isolation, as the runner's user: use it only for trusted repositories on
// machines without Docker. New logs a warning saying so. A nil logger means
// slog.Default().
func New(logger *slog.Logger, opts ...Option) *Executor {
	if logger == nil {
		logger = slog.Default()
	}
	e := &Executor{logger: logger, grace: DefaultGracePeriod, jobs: map[string]*jobState{}}
	for _, opt := range opts {
		opt(e)
	}
	logger.Warn("host executor: steps run directly on this machine with no isolation")
	return e
}

// Setup refuses jobs with services and creates the job's temporary HOME.
func (e *Executor) Setup(ctx context.Context, job *executor.Job) error {
	if len(job.Services) > 0 {
		return fmt.Errorf("host executor cannot run services (service %q); use the docker executor",
			job.Services[0].Name)
	}
	home, err := os.MkdirTemp(e.homeDir, "narwhal-home-"+filepath.Base(job.ID)+"-")
	if err != nil {
		return fmt.Errorf("create job home: %w", err)
	}
	if err := os.Mkdir(filepath.Join(home, "tmp"), 0o700); err != nil {
		_ = os.RemoveAll(home)
		return fmt.Errorf("create job home: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.jobs[job.ID]; ok {
		_ = os.RemoveAll(home)
		return fmt.Errorf("job %s is already set up", job.ID)
	}
	e.jobs[job.ID] = &jobState{home: home, sessions: map[int]struct{}{}}
	return nil
}

// Teardown kills every process of the job's steps still running and removes
// its HOME. It is idempotent, and a job never set up is no error.
func (e *Executor) Teardown(ctx context.Context, job *executor.Job) error {
	e.mu.Lock()
	js := e.jobs[job.ID]
	delete(e.jobs, job.ID)
	e.mu.Unlock()
	if js == nil {
		return nil
	}
	js.mu.Lock()
	js.closed = true
	for sid := range js.sessions {
		killSession(sid, syscall.SIGKILL)
	}
	js.mu.Unlock()
	if err := workspace.Remove(js.home); err != nil {
		return fmt.Errorf("teardown job %s: %w", job.ID, err)
	}
	return nil
}

// state returns the job's state, or an error when Setup did not run.
func (e *Executor) state(job *executor.Job) (*jobState, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if js := e.jobs[job.ID]; js != nil {
		return js, nil
	}
	return nil, fmt.Errorf("job %s is not set up", job.ID)
}

// track records the session of a step that started, so that Teardown can
// kill it; it reports false when Teardown came first.
func (js *jobState) track(sid int) bool {
	js.mu.Lock()
	defer js.mu.Unlock()
	js.sessions[sid] = struct{}{}
	return !js.closed
}

// untrack forgets a session once its step has ended.
func (js *jobState) untrack(sid int) {
	js.mu.Lock()
	delete(js.sessions, sid)
	js.mu.Unlock()
}
