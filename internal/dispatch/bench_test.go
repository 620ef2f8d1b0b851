package dispatch_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor"
	"github.com/narwhal-ci/narwhal/internal/logstore/fs"
	"github.com/narwhal-ci/narwhal/internal/pipeline"
	"github.com/narwhal-ci/narwhal/internal/queue/memq"
	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/runner"
	"github.com/narwhal-ci/narwhal/internal/store/sqlite"
	"github.com/narwhal-ci/narwhal/internal/tlsgen"
)

// Benchmark shape: 64 jobs in flight (published, not yet accepted), 64
// concurrent handlers. The no-op runners have room for every job.
const (
	benchInFlight = 64
	benchPrefetch = 64
	benchNopSlots = 1 << 20
)

// BenchmarkDispatch measures the dispatch path from a published job message
// to the Run call accepted by a runner: memq, HandleJob on SQLite (a file),
// the real client Pool, gRPC with TLS and a token on loopback. Two fleets
// side by side: 10 no-op runners (a RunnerService that accepts at once: the
// scheduler's own cost) and one real runner.Runner on a no-op executor (the
// runner's slot, workspace and log bookkeeping in the same process too). The
// publisher keeps benchInFlight jobs published but not yet accepted, so the
// latency is that of a saturated but bounded queue. It reports jobs/s and the
// p50/p99 of queue→accept in ms.
func BenchmarkDispatch(b *testing.B) {
	b.Run("runners=10-nop", func(b *testing.B) {
		benchDispatch(b, func(acc *acceptLog) rpc.RunnerService { return nopRunner{acc} }, 10, benchNopSlots)
	})
	b.Run("runners=1-real", func(b *testing.B) {
		benchDispatch(b, func(acc *acceptLog) rpc.RunnerService { return realRunner(b, acc) }, 1, benchNopSlots)
	})
}

// benchDispatch dispatches b.N jobs to n runners made by newRunner, each
// registered with slots.
func benchDispatch(b *testing.B, newRunner func(*acceptLog) rpc.RunnerService, n, slots int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	acc := &acceptLog{at: make(map[string]time.Time, b.N), done: make(chan string, b.N)}
	runners := startBenchRunners(b, n, func() rpc.RunnerService { return newRunner(acc) })
	st, err := sqlite.OpenWith(ctx, benchDB(b), sqlite.Options{Exclusive: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	registerRunners(b, st, runners, slots)
	measureDispatch(b, st, runners, createJobs(b, st, b.N), acc)
}

// acceptLog records when each job was accepted by a runner, and how many
// came in a RunBatch (with others) rather than alone.
type acceptLog struct {
	mu      sync.Mutex
	at      map[string]time.Time
	done    chan string
	batched atomic.Int64
}

// accept records the acceptance of job id, handed over in the call of ctx.
func (a *acceptLog) accept(ctx context.Context, id string) {
	if m, _ := grpc.Method(ctx); strings.HasSuffix(m, "/RunBatch") {
		a.batched.Add(1)
	}
	a.mu.Lock()
	_, seen := a.at[id]
	if !seen {
		a.at[id] = time.Now()
	}
	a.mu.Unlock()
	if !seen {
		a.done <- id
	}
}

// nopRunner is a RunnerService that accepts every job at once and runs
// nothing.
type nopRunner struct{ acc *acceptLog }

func (n nopRunner) Run(ctx context.Context, j rpc.Job) (bool, string, error) {
	n.acc.accept(ctx, j.ID)
	return true, "", nil
}
func (nopRunner) Cancel(context.Context, string) error       { return nil }
func (nopRunner) Drain(context.Context, time.Duration) error { return nil }
func (nopRunner) Stats(context.Context) (rpc.Stats, error)   { return rpc.Stats{}, nil }

// timedRunner is a runner.Runner that stamps the moment it accepts a job.
type timedRunner struct {
	*runner.Runner
	acc *acceptLog
}

func (t timedRunner) Run(ctx context.Context, j rpc.Job) (bool, string, error) {
	ok, why, err := t.Runner.Run(ctx, j)
	if ok && err == nil {
		t.acc.accept(ctx, j.ID)
	}
	return ok, why, err
}

// realRunner starts a runner.Runner on a no-op executor, dropping its
// reports, with room for every job.
func realRunner(b *testing.B, acc *acceptLog) rpc.RunnerService {
	dir := b.TempDir()
	r, err := runner.New(runner.Config{ID: "r0", Capacity: benchNopSlots, WorkDir: filepath.Join(dir, "work")},
		runner.Deps{Exec: nopExec{}, Reports: dropReports{}, Logs: fs.New(filepath.Join(dir, "logs")),
			Checkout: stubCheckout{}, Logger: benchQuiet()})
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = r.Close(context.Background()) })
	return timedRunner{r, acc}
}

// benchFleet is the runners' addresses and credentials.
type benchFleet struct {
	cert, key []byte
	token     string
	addrs     []string
}

// startBenchRunners serves n runners made by newRunner over gRPC with TLS.
func startBenchRunners(b *testing.B, n int, newRunner func() rpc.RunnerService) benchFleet {
	cert, key, err := tlsgen.SelfSigned(nil, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	f := benchFleet{cert: cert, key: key, token: "bench-token-0123456789abcdef"}
	for range n {
		f.addrs = append(f.addrs, serveBenchRunner(b, f, newRunner()))
	}
	return f
}

func serveBenchRunner(b *testing.B, f benchFleet, svc rpc.RunnerService) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s, err := rpc.NewServer(svc, rpc.ServerConfig{CertPEM: f.cert, KeyPEM: f.key,
		Tokens: []string{f.token}}, benchQuiet())
	if err != nil {
		b.Fatal(err)
	}
	go s.Serve(lis)
	b.Cleanup(s.Stop)
	return lis.Addr().String()
}

func registerRunners(b *testing.B, st *sqlite.Store, f benchFleet, slots int) {
	now := time.Now().UTC()
	for i, addr := range f.addrs {
		r := ci.Runner{ID: fmt.Sprintf("r%d", i), Address: addr, Capacity: slots, State: ci.RunnerActive,
			LastHeartbeat: now, ExpiresAt: now.Add(time.Hour)}
		if err := st.PutRunner(context.Background(), r); err != nil {
			b.Fatal(err)
		}
	}
}

// createJobs stores n queued, published jobs over a few repositories.
func createJobs(b *testing.B, st *sqlite.Store, n int) []ci.Job {
	jobs := make([]ci.Job, 0, n)
	now := time.Now().UTC()
	for i := range n {
		repo, sha := fmt.Sprintf("acme/app%d", i%20), fmt.Sprintf("%040x", i+1)
		j := ci.Job{ID: ci.JobID(repo, sha, ci.EventPush, 0), Repo: repo, SHA: sha,
			CloneURL: "https://github.com/" + repo + ".git", Ref: "refs/heads/main", Branch: "main",
			Event: ci.EventPush, Status: ci.StatusQueued, Attempt: 1, Published: true, CreatedAt: now}
		created, err := st.CreateJob(context.Background(), j)
		if err != nil {
			b.Fatal(err)
		}
		jobs = append(jobs, created)
	}
	return jobs
}

// publishAll publishes every job's message, keeping at most benchInFlight
// unaccepted, and returns when all are accepted, with the publish times.
func publishAll(b *testing.B, ctx context.Context, q *memq.Queue, jobs []ci.Job, acc *acceptLog) map[string]time.Time {
	published := make(map[string]time.Time, len(jobs))
	var mu sync.Mutex
	inFlight, accepted := 0, 0
	timeout := time.After(2 * time.Minute)
	for _, j := range jobs {
		for inFlight >= benchInFlight {
			select {
			case <-acc.done:
				inFlight, accepted = inFlight-1, accepted+1
			case <-timeout:
				b.Fatalf("timed out: %d of %d jobs accepted", accepted, len(jobs))
			}
		}
		mu.Lock()
		published[j.ID] = time.Now()
		mu.Unlock()
		if err := q.Publish(ctx, ci.NewJobMessage(j)); err != nil {
			b.Fatal(err)
		}
		inFlight++
	}
	for accepted < len(jobs) {
		select {
		case <-acc.done:
			accepted++
		case <-timeout:
			b.Fatalf("timed out: %d of %d jobs accepted", accepted, len(jobs))
		}
	}
	return published
}

func reportDispatch(b *testing.B, jobs []ci.Job, published map[string]time.Time, acc *acceptLog, elapsed time.Duration) {
	lat := make([]float64, 0, len(jobs))
	acc.mu.Lock()
	for _, j := range jobs {
		lat = append(lat, float64(acc.at[j.ID].Sub(published[j.ID]))/float64(time.Millisecond))
	}
	acc.mu.Unlock()
	slices.Sort(lat)
	b.ReportMetric(float64(len(jobs))/elapsed.Seconds(), "jobs/s")
	b.ReportMetric(lat[len(lat)/2], "p50-ms")
	b.ReportMetric(lat[min(len(lat)-1, len(lat)*99/100)], "p99-ms")
	b.ReportMetric(100*float64(acc.batched.Load())/float64(len(jobs)), "%-in-batches")
}

func benchQuiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// nopExec runs nothing and records nothing: every step succeeds at once.
type nopExec struct{}

var _ executor.Executor = nopExec{}

func (nopExec) Setup(context.Context, *executor.Job) error    { return nil }
func (nopExec) Teardown(context.Context, *executor.Job) error { return nil }
func (nopExec) Run(context.Context, *executor.Job, *executor.Step, io.Writer) (executor.Result, error) {
	return executor.Result{}, nil
}

// dropReports is an outbox that drops every report.
type dropReports struct{}

func (dropReports) Enqueue(context.Context, ci.Message) error { return nil }
func (dropReports) Pending() int                              { return 0 }

// stubCheckout clones nothing and returns a one-step pipeline.
type stubCheckout struct{}

func (stubCheckout) Checkout(context.Context, string, rpc.Job) (*pipeline.Pipeline, error) {
	return pipeline.Parse("bench.yml", []byte("image: bench\nsteps:\n  - name: s\n    commands: [\"true\"]\n"))
}

// benchDB is the SQLite database of the benchmark: a file in b.TempDir(),
// or a private in-memory database with NARWHAL_BENCH_SQLITE=memory (to
// separate the cost of the file's writes from the rest).
func benchDB(b *testing.B) string {
	if os.Getenv("NARWHAL_BENCH_SQLITE") == "memory" {
		return sqlite.Memory
	}
	return filepath.Join(b.TempDir(), "narwhal.db")
}
