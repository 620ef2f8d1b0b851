package dispatch

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue/memq"
	"github.com/narwhal-ci/narwhal/internal/rpc"
)

// fakeRunner is a hand-written rpc.RunnerService that records its calls;
// with a nil runFn it accepts every job.
type fakeRunner struct {
	mu      sync.Mutex
	runs    []rpc.Job
	cancels []string
	drains  int
	runFn   func(rpc.Job) (bool, string, error)
}

var _ rpc.RunnerService = (*fakeRunner)(nil)

func (f *fakeRunner) Run(_ context.Context, j rpc.Job) (bool, string, error) {
	f.mu.Lock()
	f.runs = append(f.runs, j)
	fn := f.runFn
	f.mu.Unlock()
	if fn != nil {
		return fn(j)
	}
	return true, "", nil
}

func (f *fakeRunner) Cancel(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancels = append(f.cancels, id)
	return nil
}

func (f *fakeRunner) Drain(context.Context, time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drains++
	return nil
}

func (f *fakeRunner) Stats(context.Context) (rpc.Stats, error) { return rpc.Stats{}, nil }

func (f *fakeRunner) ran() []rpc.Job {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.runs)
}

func (f *fakeRunner) cancelled() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.cancels)
}

func refuse(reason string) func(rpc.Job) (bool, string, error) {
	return func(rpc.Job) (bool, string, error) { return false, reason, nil }
}

// fakeClients hands out fakeRunners by address; an unknown address gives a
// client whose calls fail as if the runner were down.
type fakeClients struct {
	mu       sync.Mutex
	runners  map[string]*fakeRunner
	released []string
}

func (c *fakeClients) Client(_ context.Context, r ci.Runner) (rpc.RunnerService, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.runners[r.Address]; ok {
		return f, nil
	}
	return downRunner{}, nil
}

// downRunner is a runner that cannot be reached.
type downRunner struct{}

var errDown = errors.New("connection refused")

func (downRunner) Run(context.Context, rpc.Job) (bool, string, error) { return false, "", errDown }
func (downRunner) Cancel(context.Context, string) error               { return errDown }
func (downRunner) Drain(context.Context, time.Duration) error         { return errDown }
func (downRunner) Stats(context.Context) (rpc.Stats, error)           { return rpc.Stats{}, errDown }

func (c *fakeClients) Release(r ci.Runner) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.released = append(c.released, r.ID)
}

// fakeStatus records reported jobs; fail makes Report fail.
type fakeStatus struct {
	mu    sync.Mutex
	jobs  []ci.Job
	fail  bool
	tries int
}

func (s *fakeStatus) Report(_ context.Context, j ci.Job) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tries++
	if s.fail {
		return errors.New("github down")
	}
	s.jobs = append(s.jobs, j)
	return nil
}

// states lists the reported (status, description-relevant field) of job id.
func (s *fakeStatus) states(id string) []ci.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ci.Status
	for _, j := range s.jobs {
		if j.ID == id {
			out = append(out, j.Status)
		}
	}
	return out
}

func (s *fakeStatus) last(t *testing.T, id string) ci.Job {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.jobs) - 1; i >= 0; i-- {
		if s.jobs[i].ID == id {
			return s.jobs[i]
		}
	}
	t.Fatalf("no status reported for job %s", id)
	return ci.Job{}
}

// fakeConfig answers Labels and SecretNames from maps by SHA.
type fakeConfig struct {
	mu      sync.Mutex
	labels  map[string][]string
	secrets map[string][]string
	err     error
	calls   int
}

func (c *fakeConfig) SecretNames(_ context.Context, j ci.Job) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.secrets[j.SHA], c.err
}

func (c *fakeConfig) Labels(_ context.Context, j ci.Job) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	return c.labels[j.SHA], c.err
}

// recQueue passes everything to memq and records delayed publishes;
// failDelayed makes PublishDelayed fail.
type recQueue struct {
	*memq.Queue
	mu          sync.Mutex
	delayed     []ci.Message
	published   []ci.Message
	failDelayed bool
}

func (q *recQueue) Publish(ctx context.Context, m ci.Message) error {
	q.mu.Lock()
	q.published = append(q.published, m)
	q.mu.Unlock()
	return q.Queue.Publish(ctx, m)
}

func (q *recQueue) PublishDelayed(ctx context.Context, m ci.Message, d time.Duration) error {
	q.mu.Lock()
	fail := q.failDelayed
	if !fail {
		q.delayed = append(q.delayed, m)
	}
	q.mu.Unlock()
	if fail {
		return errors.New("wait queue unavailable")
	}
	return q.Queue.PublishDelayed(ctx, m, d)
}

// messages returns the recorded messages with key, published or delayed.
func (q *recQueue) messages(delayed bool, key string) []ci.Message {
	q.mu.Lock()
	defer q.mu.Unlock()
	src := q.published
	if delayed {
		src = q.delayed
	}
	var out []ci.Message
	for _, m := range src {
		if m.Key == key {
			out = append(out, m)
		}
	}
	return out
}
