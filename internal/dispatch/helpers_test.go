package dispatch

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue/memq"
	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/runnerkey"
	"github.com/narwhal-ci/narwhal/internal/store/sqlite"
)

// clock is a settable time source near the real time (the SQLite store
// hides runners whose ExpiresAt passed by the wall clock).
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// rig is a Dispatcher on SQLite and memq with fake runners and statuses.
type rig struct {
	d       *Dispatcher
	store   *sqlite.Store
	queue   *recQueue
	clients *fakeClients
	status  *fakeStatus
	config  *fakeConfig
	clock   *clock
	limit   int
}

// newRig makes a rig; edit may change the deps before New.
func newRig(t *testing.T, cfg Config, edit func(*Deps)) *rig {
	t.Helper()
	st, err := sqlite.Open(t.Context(), sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	g := &rig{store: st, clients: &fakeClients{runners: map[string]*fakeRunner{}},
		status: &fakeStatus{}, config: &fakeConfig{labels: map[string][]string{}, secrets: map[string][]string{}},
		clock: &clock{t: time.Now().UTC().Truncate(time.Second)}, limit: 2}
	g.queue = &recQueue{Queue: memq.New(memq.Config{DeliveryLimit: g.limit})}
	t.Cleanup(func() { g.queue.Close(); st.Close() })
	cfg.DeliveryLimit = g.limit
	if cfg.RunnerKeys == nil {
		cfg.RunnerKeys = []string{testFleetKey}
	}
	cfg.StatusBackoff = time.Millisecond
	deps := Deps{Store: st, Queue: g.queue, Clients: g.clients, Status: g.status, Config: g.config,
		Logger: quiet(), Now: g.clock.Now}
	if edit != nil {
		edit(&deps)
	}
	g.d = New(cfg, deps)
	return g
}

// runner registers a healthy runner and its fake RPC service.
func (g *rig) runner(t *testing.T, id string, running, capacity int, labels ...string) *fakeRunner {
	t.Helper()
	r := ci.Runner{ID: id, Address: id + ":7070", Labels: labels, Capacity: capacity, Running: running,
		State: ci.RunnerActive, LastHeartbeat: g.clock.Now(), ExpiresAt: g.clock.Now().Add(time.Hour)}
	if err := g.store.PutRunner(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	f := &fakeRunner{}
	g.clients.mu.Lock()
	g.clients.runners[r.Address] = f
	g.clients.mu.Unlock()
	return f
}

// job creates a queued, published job for sha.
func (g *rig) job(t *testing.T, sha string) ci.Job {
	t.Helper()
	j := ci.Job{ID: ci.JobID("acme/app", sha, ci.EventPush, 0), Repo: "acme/app", SHA: sha,
		CloneURL: "https://github.com/acme/app.git", Ref: "refs/heads/main", Branch: "main",
		Event: ci.EventPush, Status: ci.StatusQueued, Attempt: 1, Published: true, CreatedAt: g.clock.Now()}
	created, err := g.store.CreateJob(t.Context(), j)
	if err != nil {
		t.Fatal(err)
	}
	return created
}

// set changes job id in the store.
func (g *rig) set(t *testing.T, id string, change func(*ci.Job)) ci.Job {
	t.Helper()
	j, err := ci.Update(t.Context(), g.store, id, func(j *ci.Job) error { change(j); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func (g *rig) get(t *testing.T, id string) ci.Job {
	t.Helper()
	j, err := g.store.GetJob(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func (g *rig) getRunner(t *testing.T, id string) ci.Runner {
	t.Helper()
	r, err := g.store.GetRunner(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// delivery is the first delivery of the message of j's current attempt.
func delivery(j ci.Job) ci.Delivery { return ci.Delivery{Message: ci.NewJobMessage(j), Attempt: 1} }

// handle runs HandleJob on the first delivery of j's message, expecting nil.
func (g *rig) handle(t *testing.T, j ci.Job) {
	t.Helper()
	if err := g.d.HandleJob(t.Context(), delivery(j)); err != nil {
		t.Fatalf("HandleJob: %v", err)
	}
}

// event delivers a runner report to HandleEvent, expecting nil.
func (g *rig) event(t *testing.T, ev ci.RunnerEvent) {
	t.Helper()
	if ev.Time.IsZero() {
		ev.Time = g.clock.Now()
	}
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	m := signed(ci.Message{Key: ci.RouteEvents + "." + string(ev.Kind), ID: fmt.Sprint(ev.Seq), Body: body}, ev.RunnerID)
	if err := g.d.HandleEvent(t.Context(), ci.Delivery{Message: m, Attempt: 1}); err != nil {
		t.Fatalf("HandleEvent(%s %s): %v", ev.Kind, ev.Status, err)
	}
}

// testFleetKey is the rig's fleet key (Config.RunnerKeys).
const testFleetKey = "rig-fleet-key-0123456789"

// signed signs m as runner id does, with its token under testFleetKey.
func signed(m ci.Message, id string) ci.Message {
	m.Headers = map[string]string{runnerkey.Header: runnerkey.Sign(runnerkey.Token(testFleetKey, id), m.Body)}
	return m
}

func jobIDs(jobs []rpc.Job) []string {
	var ids []string
	for _, j := range jobs {
		ids = append(ids, fmt.Sprintf("%s#%d", j.ID, j.Attempt))
	}
	return ids
}

func assertJob(t *testing.T, j ci.Job, status ci.Status, attempt int, runnerID string) {
	t.Helper()
	if j.Status != status || j.Attempt != attempt || j.RunnerID != runnerID {
		t.Fatalf("job %s: status %s attempt %d runner %q; want %s %d %q (waiting %q, error %q)",
			j.ID, j.Status, j.Attempt, j.RunnerID, status, attempt, runnerID, j.Waiting, j.Error)
	}
}
