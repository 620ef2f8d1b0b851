package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	gh "github.com/google/go-github/v57/github"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/dispatch"
	"github.com/narwhal-ci/narwhal/internal/ghauth"
	"github.com/narwhal-ci/narwhal/internal/github"
	"github.com/narwhal-ci/narwhal/internal/intake"
	"github.com/narwhal-ci/narwhal/internal/queue/amqp"
	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/runnerkey"
	"github.com/narwhal-ci/narwhal/internal/store/sqlite"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// stackOpts configures the control plane of a test.
type stackOpts struct {
	lease         time.Duration // dispatch.Config.Lease; 0 = the default
	deliveryLimit int           // amqp and dispatch delivery limit; 0 = the default
	github        *gh.Client    // status reporter and config fetcher; nil = none, local repos only
	monitorEvery  time.Duration // 0 = no monitor loop
	grace         time.Duration // dispatch.Config.ReconcileGrace; 0 = the default
	creds         ghauth.Source // clone tokens, statuses and narwhal.yml instead of github; nil = none
}

// stack is a dispatcher on SQLite and a RabbitMQ topology of the test's own,
// consuming jobs and runner reports until the end of the test.
type stack struct {
	t      *testing.T
	url    string
	prefix string
	store  *sqlite.Store
	queue  *amqp.Queue
	intake *intake.Intake
	d      *dispatch.Dispatcher

	mu     sync.Mutex
	events []ci.RunnerEvent // every runner report applied, in order
}

// newStack builds the control plane. Runners started with s.runner report
// into its topology.
func newStack(t *testing.T, o stackOpts) *stack {
	t.Helper()
	url := testenv.AMQPURL(t)
	s := &stack{t: t, url: url, prefix: "e2e-" + randHex(4) + "."}
	ctx := ctxT(t)
	buf := &testenv.Buffer{}
	log := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("control plane log:\n%s", buf.String())
		}
	})
	qcfg := amqp.Config{URL: url, Prefix: s.prefix, DeliveryLimit: o.deliveryLimit}
	var err error
	if s.queue, err = amqp.New(ctx, qcfg, log); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.queue.Close()
		if err := amqp.DeleteTopology(qcfg); err != nil {
			t.Logf("delete topology: %v", err)
		}
	})
	if s.store, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "narwhal.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.store.Close() })
	s.intake = &intake.Intake{Store: s.store, Queue: s.queue, Logger: log}
	pool := dispatch.NewPool(rpc.ClientConfig{CAPEM: certPEM, Logger: log}, runnerkey.Fleet{fleetKey})
	t.Cleanup(func() { pool.Close() })
	deps := dispatch.Deps{Store: s.store, Queue: s.queue, Clients: pool, Logger: log}
	withGitHub(&deps, o)
	s.d = dispatch.New(dispatch.Config{RunnerKeys: []string{fleetKey}, Lease: o.lease, WaitDelay: time.Second, DeliveryLimit: o.deliveryLimit,
		StatusBackoff: 10 * time.Millisecond, ReconcileGrace: o.grace}, deps)
	s.loop(ctx, func(ctx context.Context) { dispatch.Consume(ctx, s.queue, ci.QueueEvents, 1, s.handleEvent) })
	s.loop(ctx, func(ctx context.Context) { dispatch.Consume(ctx, s.queue, ci.QueueJobs, 8, s.d.HandleJob) })
	if o.monitorEvery > 0 {
		s.loop(ctx, func(ctx context.Context) { s.d.RunMonitor(ctx, o.monitorEvery) })
	}
	return s
}

// withGitHub gives deps what talks to GitHub: o.creds for everything, or
// o.github's one client for statuses and narwhal.yml, or neither (local
// repositories only).
func withGitHub(deps *dispatch.Deps, o stackOpts) {
	var clients github.Clients
	switch {
	case o.creds != nil:
		clients, deps.Credentials = o.creds, o.creds
	case o.github != nil:
		clients = github.SharedClient{C: o.github}
	}
	deps.Config = github.NewConfigFetcher(clients)
	if clients != nil {
		deps.Status = github.NewStatusReporter(clients, github.StatusOptions{SelfURL: "http://ci.test"})
	}
}

// loop runs f until the end of the test, and waits for it then.
func (s *stack) loop(ctx context.Context, f func(context.Context)) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); f(ctx) }()
	s.t.Cleanup(func() { cancel(); <-done })
}

// handleEvent applies a runner report and records it. It holds s.mu across
// the store update, so that a test that sees the job's new state and then
// reads jobEvents finds the report recorded.
func (s *stack) handleEvent(ctx context.Context, d ci.Delivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.d.HandleEvent(ctx, d); err != nil {
		return err
	}
	if ev, err := ci.ParseEvent(d.Body); err == nil {
		s.events = append(s.events, ev)
	}
	return nil
}

// jobEvents returns the job reports about id with status st.
func (s *stack) jobEvents(id string, st ci.Status) []ci.RunnerEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ci.RunnerEvent
	for _, ev := range s.events {
		if ev.Kind == ci.EventJob && ev.JobID == id && ev.Status == st {
			out = append(out, ev)
		}
	}
	return out
}

// runner starts a runnerd process reporting into the stack's topology and
// waits until the dispatcher has it as active.
func (s *stack) runner(o runnerOpts) *runnerd {
	s.t.Helper()
	o.amqpURL, o.prefix = s.url, s.prefix
	o.id = s.prefix + o.id
	r := startRunnerd(s.t, o)
	eventually(s.t, 20*time.Second, "runner "+o.id+" registered", func() bool {
		rr, err := s.store.GetRunner(context.Background(), o.id)
		return err == nil && rr.State == ci.RunnerActive && rr.Address == r.GRPC
	})
	return r
}

// submit creates a job through the intake (stored and published once).
func (s *stack) submit(job ci.Job) ci.Job {
	s.t.Helper()
	if job.ID == "" {
		job.ID = ci.JobID(job.Repo, job.SHA, job.Event, 0) + "-" + randHex(3)
	}
	out, err := s.intake.Accept(context.Background(), "delivery-"+randHex(4), job)
	if err != nil || !out.Published {
		s.t.Fatalf("accept: %+v %v", out, err)
	}
	return s.job(out.JobID)
}

func (s *stack) job(id string) ci.Job {
	s.t.Helper()
	j, err := s.store.GetJob(context.Background(), id)
	if err != nil {
		s.t.Fatal(err)
	}
	return j
}

// waitJob waits until job id satisfies cond and returns it.
func (s *stack) waitJob(id string, timeout time.Duration, what string, cond func(ci.Job) bool) ci.Job {
	s.t.Helper()
	var j ci.Job
	eventually(s.t, timeout, "job "+id+" "+what, func() bool {
		j = s.job(id)
		return cond(j)
	})
	return j
}

// waitStatus waits until job id is in status st.
func (s *stack) waitStatus(id string, st ci.Status, timeout time.Duration) ci.Job {
	s.t.Helper()
	defer func() {
		if s.t.Failed() {
			s.t.Logf("job: %+v", s.job(id))
		}
	}()
	return s.waitJob(id, timeout, "in "+string(st), func(j ci.Job) bool { return j.Status == st })
}

// localJob is a push job of a repository at url.
func localJob(url, sha string) ci.Job {
	return ci.Job{Repo: "acme/app", CloneURL: url, SHA: sha, Ref: "refs/heads/main", Branch: "main",
		Event: ci.EventPush}
}

// gitRepo makes a repository with one commit holding narwhal.yml and returns
// its directory and the commit's SHA.
func gitRepo(t *testing.T, narwhalYML string) (string, string) {
	t.Helper()
	return testenv.GitRepo(t, map[string]string{"narwhal.yml": narwhalYML})
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
