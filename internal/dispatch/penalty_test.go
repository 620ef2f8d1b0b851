package dispatch

import (
	"context"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/tlsgen"
)

// A runner whose Run failed recently goes behind every other candidate,
// whatever its load, until the penalty has passed.
func TestPickPenalisesFailedRPC(t *testing.T) {
	t.Parallel()
	s := &LeastLoaded{Lease: time.Minute, Penalty: time.Minute}
	failed := func(ago time.Duration) func(*ci.Runner) {
		return func(r *ci.Runner) { r.RPCFailedAt = t0.Add(-ago) }
	}
	runners := []ci.Runner{
		with(rn("a", 0, 4), failed(10*time.Second)),
		rn("b", 3, 4),
		with(rn("c", 0, 4), failed(2*time.Minute)), // the penalty is over
		with(rn("d", 1, 4), failed(time.Second)),
	}
	got, _ := s.Pick(ci.Job{Repo: "acme/app"}, runners, t0)
	if ids := runnerIDs(got); !slices.Equal(ids, []string{"c", "b", "a", "d"}) {
		t.Fatalf("order %v, want [c b a d]", ids)
	}
}

func runnerIDs(rs []ci.Runner) []string {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return ids
}

// Issue 10, case 8: a Run that fails to a runner whose heartbeats arrive
// counts against it. Runner a is the least loaded and the lowest ID, so
// today it would be offered every job first; after its first failed Run the
// next jobs go straight to b, until the penalty has passed.
func TestFailedRunSendsRunnerBack(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{RPCPenalty: time.Minute}, nil)
	a := g.runner(t, "a", 0, 8)
	a.runFn = func(rpc.Job) (bool, string, error) { return false, "", context.DeadlineExceeded }
	b := g.runner(t, "b", 0, 8)
	for i, sha := range []string{"pen1", "pen2", "pen3"} {
		j := g.job(t, sha)
		g.handle(t, j)
		assertJob(t, g.get(t, j.ID), ci.StatusAssigned, 1, "b")
		if na, nb := len(a.ran()), len(b.ran()); na != 1 || nb != i+1 {
			t.Fatalf("after job %d: Runs a %d, b %d; want a only the first", i+1, na, nb)
		}
	}
	if r := g.getRunner(t, "a"); r.Failures != 1 || !r.RPCFailedAt.Equal(g.clock.Now()) {
		t.Errorf("runner a failures %d, failed at %v; want 1 and now", r.Failures, r.RPCFailedAt)
	}
	// A heartbeat keeps the mark; the penalty decays with time, and a, the
	// less loaded, comes first again.
	g.clock.Add(61 * time.Second)
	g.heartbeat(t, ci.EventHeartbeat, "a", "")
	g.event(t, ci.RunnerEvent{Kind: ci.EventHeartbeat, RunnerID: "b", Runner: &ci.Runner{Address: "b:7070",
		Capacity: 4, Running: 3}})
	if r := g.getRunner(t, "a"); r.RPCFailedAt.IsZero() {
		t.Fatal("a heartbeat cleared the failed Run")
	}
	a.runFn = nil
	j := g.job(t, "pen4")
	g.handle(t, j)
	assertJob(t, g.get(t, j.ID), ci.StatusAssigned, 1, "a")
	if r := g.getRunner(t, "a"); !r.RPCFailedAt.IsZero() {
		t.Errorf("an accepted Run left the failure mark %v", r.RPCFailedAt)
	}
}

// The same over real gRPC: runner a's address accepts TCP connections and
// never answers (a black hole, as behind a partition); b is a real runner
// server. Only the first job is offered to a.
func TestBlackHoledRunnerOfferedOnce(t *testing.T) {
	t.Parallel()
	cert, key, err := tlsgen.SelfSigned(nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	token, err := tlsgen.Token()
	if err != nil {
		t.Fatal(err)
	}
	healthy := &fakeRunner{}
	_, healthyAddr := serveRunner(t, healthy, cert, key, token)
	hole := blackHole(t)
	pool := &countingClients{Clients: NewPool(rpc.ClientConfig{CAPEM: cert, Token: token,
		CallTimeout: time.Second, Retry: rpc.Retry{Initial: 20 * time.Millisecond}}, nil)}
	g := newRig(t, Config{RPCTimeout: 2 * time.Second}, func(d *Deps) { d.Clients = pool })
	for _, r := range []ci.Runner{
		{ID: "a", Address: hole, Capacity: 8},
		{ID: "b", Address: healthyAddr, Capacity: 8},
	} {
		r.State, r.LastHeartbeat, r.ExpiresAt = ci.RunnerActive, g.clock.Now(), g.clock.Now().Add(time.Hour)
		if err := g.store.PutRunner(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	for _, sha := range []string{"hole1", "hole2", "hole3", "hole4"} {
		j := g.job(t, sha)
		g.handle(t, j)
		assertJob(t, g.get(t, j.ID), ci.StatusAssigned, 1, "b")
	}
	if got := pool.runs(); !slices.Equal(got, []string{"a", "b", "b", "b", "b"}) {
		t.Fatalf("Runs in order to %v, want a once, then only b", got)
	}
}

// blackHole listens on loopback, accepts connections and never writes.
func blackHole(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		lis.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return lis.Addr().String()
}

// countingClients records, in order, the runners each Run went to.
type countingClients struct {
	Clients
	mu    sync.Mutex
	order []string
}

func (c *countingClients) Client(ctx context.Context, r ci.Runner) (rpc.RunnerService, error) {
	inner, err := c.Clients.Client(ctx, r)
	if err != nil {
		return nil, err
	}
	return countingRunner{RunnerService: inner, id: r.ID, c: c}, nil
}

func (c *countingClients) runs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.order)
}

type countingRunner struct {
	rpc.RunnerService
	id string
	c  *countingClients
}

func (r countingRunner) Run(ctx context.Context, j rpc.Job) (bool, string, error) {
	r.c.mu.Lock()
	r.c.order = append(r.c.order, r.id)
	r.c.mu.Unlock()
	return r.RunnerService.Run(ctx, j)
}
