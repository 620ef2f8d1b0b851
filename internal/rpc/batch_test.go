package rpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/narwhal-ci/narwhal/internal/rpc/runnerpb"
)

// gate is a runFn that holds the Run of job "hold" until release, and
// records the method each job came by.
type gate struct {
	mu      sync.Mutex
	methods map[string]string // job ID → "Run" or "RunBatch"
	held    chan struct{}     // closed when "hold" arrived
	release chan struct{}
	answer  func(Job) (bool, string, error) // nil: accept
}

func newGate() *gate {
	return &gate{methods: map[string]string{}, held: make(chan struct{}), release: make(chan struct{})}
}

func (g *gate) run(ctx context.Context, j Job) (bool, string, error) {
	method, _ := grpc.Method(ctx)
	g.mu.Lock()
	g.methods[j.ID] = method[len("/narwhal.runner.v1.Runner/"):]
	g.mu.Unlock()
	if j.ID == "hold" {
		close(g.held)
		<-g.release
	}
	if g.answer != nil {
		return g.answer(j)
	}
	return true, "", nil
}

func (g *gate) method(id string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.methods[id]
}

// gatedClient serves a gate and returns it with a client of it.
func gatedClient(t *testing.T) (*gate, *Client) {
	g := newGate()
	f := startServer(t, &fakeRunner{runFn: g.run}, nil)
	return g, dial(t, f.addr, ClientConfig{CAPEM: f.cert})
}

func jobNamed(id string) Job {
	j := fullJob()
	j.ID = id
	return j
}

// holdRunner sends the Run of "hold" and returns once the runner holds it,
// with what waits for its answer.
func holdRunner(t *testing.T, c *Client, g *gate) (wait func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() { _, _, err := c.Run(ctxT(t, 10*time.Second), jobNamed("hold")); done <- err }()
	<-g.held
	return func() {
		if err := <-done; err != nil {
			t.Errorf("Run(hold): %v", err)
		}
	}
}

// waitQueued waits until n Runs are queued for c's next call.
func waitQueued(t *testing.T, c *Client, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(c.runs.queue) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d Runs queued, want %d", len(c.runs.queue), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// runAll sends the Runs of ids concurrently and returns what waits for
// them, failing the test unless each was accepted.
func runAll(t *testing.T, c *Client, ids []string) (wait func()) {
	t.Helper()
	errs := make(chan error, len(ids))
	for _, id := range ids {
		go func() {
			ok, why, err := c.Run(ctxT(t, 10*time.Second), jobNamed(id))
			if err == nil && !ok {
				err = fmt.Errorf("%s refused: %s", id, why)
			}
			errs <- err
		}()
	}
	return func() {
		for range ids {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	}
}

// The Runs queued while a call is under way go in one RunBatch, and each
// has its own answer: taken, refused with a reason, or an error of its own
// that matches what a Run alone would give.
func TestRunsQueuedBehindACallGoInOneBatch(t *testing.T) {
	t.Parallel()
	g, c := gatedClient(t)
	g.answer = func(j Job) (bool, string, error) {
		switch j.ID {
		case "full":
			return false, "all 4 slots busy", nil
		case "bad":
			return false, "", fmt.Errorf("%w: job ID %q", ErrInvalidJob, j.ID)
		case "broken":
			return false, "", errors.New("disk on fire")
		}
		return true, "", nil
	}
	waitHold := holdRunner(t, c, g)
	ids := []string{"a", "full", "bad", "broken", "b"}
	var answers map[string]runAnswer
	func() {
		var mu sync.Mutex
		answers = map[string]runAnswer{}
		var wg sync.WaitGroup
		defer wg.Wait()
		for _, id := range ids {
			wg.Go(func() {
				ok, why, err := c.Run(ctxT(t, 10*time.Second), jobNamed(id))
				mu.Lock()
				answers[id] = runAnswer{ok, why, err}
				mu.Unlock()
			})
		}
		waitQueued(t, c, len(ids))
		close(g.release)
		waitHold()
	}()
	if m := g.method("hold"); m != "Run" {
		t.Errorf("hold came by %s, want Run (the runner was idle)", m)
	}
	for _, id := range ids {
		if m := g.method(id); m != "RunBatch" {
			t.Errorf("%s came by %q, want RunBatch", id, m)
		}
	}
	for _, id := range []string{"a", "b"} {
		if a := answers[id]; !a.accepted || a.err != nil {
			t.Errorf("%s: %+v, want accepted", id, a)
		}
	}
	if a := answers["full"]; a.accepted || a.reason != "all 4 slots busy" || a.err != nil {
		t.Errorf("full: %+v, want refused with the runner's reason", a)
	}
	if a := answers["bad"]; !errors.Is(a.err, ErrInvalidJob) || status.Code(a.err) != codes.InvalidArgument {
		t.Errorf("bad: %+v, want ErrInvalidJob with InvalidArgument", a)
	}
	if a := answers["broken"]; status.Code(a.err) != codes.Internal || errors.Is(a.err, ErrInvalidJob) {
		t.Errorf("broken: %+v, want Internal", a)
	}
}

// A Run whose ctx ends while it waits for its call is not sent, and says so
// at once.
func TestQueuedRunWhoseContextEndsIsNotSent(t *testing.T) {
	t.Parallel()
	g, c := gatedClient(t)
	waitHold := holdRunner(t, c, g)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := c.Run(ctx, jobNamed("late"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the context's", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("returned after %v, want at its deadline", d)
	}
	wait := runAll(t, c, []string{"next"})
	waitQueued(t, c, 2) // late (its caller gone) and next
	close(g.release)
	waitHold()
	wait()
	if m := g.method("late"); m != "" {
		t.Errorf("late was sent (by %s) after its ctx ended", m)
	}
	if m := g.method("next"); m != "Run" {
		t.Errorf("next came by %q, want Run (alone once late was dropped)", m)
	}
}

// Closing the client fails the Run under way and answers the Runs queued
// behind it at once, without sending them.
func TestCloseAnswersQueuedRuns(t *testing.T) {
	t.Parallel()
	g, c := gatedClient(t)
	defer close(g.release)
	inFlight := make(chan error, 1)
	go func() { _, _, err := c.Run(ctxT(t, 10*time.Second), jobNamed("hold")); inFlight <- err }()
	<-g.held
	queued := make(chan error, 1)
	go func() { _, _, err := c.Run(ctxT(t, 10*time.Second), jobNamed("queued")); queued <- err }()
	waitQueued(t, c, 1)
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	for name, ch := range map[string]chan error{"queued Run": queued, "Run under way": inFlight, "Close": closed} {
		select {
		case err := <-ch:
			if name != "Close" && err == nil {
				t.Errorf("%s succeeded after Close", name)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("the %s still waits after Close", name)
		}
	}
	if m := g.method("queued"); m != "" {
		t.Errorf("queued was sent by %s after Close", m)
	}
	if _, _, err := c.Run(ctxT(t, time.Second), jobNamed("after")); err == nil {
		t.Error("Run after Close succeeded")
	}
}

// oldService is the runner service of a runnerd from before RunBatch.
type oldService struct{ *service }

func (oldService) RunBatch(context.Context, *runnerpb.RunBatchRequest) (*runnerpb.RunBatchResponse, error) {
	return nil, status.Error(codes.Unimplemented, "unknown method RunBatch for service narwhal.runner.v1.Runner")
}

// A runner that does not know RunBatch still gets every job, each by Run,
// and the client stops trying RunBatch on it.
func TestRunnerWithoutRunBatchGetsRunsAlone(t *testing.T) {
	t.Parallel()
	g := newGate()
	cert, key := newCert(t)
	creds, err := serverCreds(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(grpc.Creds(creds))
	runnerpb.RegisterRunnerServer(s, oldService{&service{impl: &fakeRunner{runFn: g.run}, health: NewHealth()}})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	c := dial(t, lis.Addr().String(), ClientConfig{CAPEM: cert})
	waitHold := holdRunner(t, c, g)
	ids := []string{"a", "b", "c"}
	wait := runAll(t, c, ids)
	waitQueued(t, c, len(ids))
	close(g.release)
	waitHold()
	wait()
	for _, id := range ids {
		if m := g.method(id); m != "Run" {
			t.Errorf("%s came by %q, want Run", id, m)
		}
	}
	if !c.runs.unbatched.Load() {
		t.Error("the client still sends RunBatch to a runner without it")
	}
}

// The server refuses a batch larger than MaxRunBatch, and takes each job of
// a batch on its own merits: one the server finds invalid fails alone.
func TestServerRunBatchBoundsAndValidates(t *testing.T) {
	t.Parallel()
	impl := &fakeRunner{}
	f := startServer(t, impl, nil)
	rc := runnerpb.NewRunnerClient(rawConn(t, f))
	ctx := metadata.AppendToOutgoingContext(ctxT(t, 5*time.Second), "authorization", "Bearer "+token1)
	big := &runnerpb.RunBatchRequest{Jobs: make([]*runnerpb.RunRequest, MaxRunBatch+1)}
	for i := range big.Jobs {
		big.Jobs[i] = jobToPB(jobNamed(fmt.Sprintf("j%d", i)))
	}
	if _, err := rc.RunBatch(ctx, big); status.Code(err) != codes.InvalidArgument {
		t.Errorf("batch of %d: %v, want InvalidArgument", len(big.Jobs), err)
	}
	if jobs, _, _, _ := impl.calls(); len(jobs) != 0 {
		t.Errorf("the runner got %d jobs of a refused batch", len(jobs))
	}
	noSHA := jobNamed("no-sha")
	noSHA.SHA = ""
	req := &runnerpb.RunBatchRequest{Jobs: []*runnerpb.RunRequest{jobToPB(jobNamed("ok")), jobToPB(noSHA)}}
	resp, err := rc.RunBatch(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	r := resp.GetResults()
	if len(r) != 2 || !r[0].GetAccepted() || codes.Code(r[1].GetCode()) != codes.InvalidArgument {
		t.Fatalf("results = %v, want accepted then InvalidArgument", r)
	}
	if jobs, _, _, _ := impl.calls(); len(jobs) != 1 || jobs[0].ID != "ok" {
		t.Errorf("the runner got %v, want the valid job alone", jobs)
	}
}
