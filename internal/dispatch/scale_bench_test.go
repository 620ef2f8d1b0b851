package dispatch_test

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/dispatch"
	"github.com/narwhal-ci/narwhal/internal/queue/memq"
	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/store/sqlite"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// BenchmarkDispatchScale is BenchmarkDispatch's queue→accept path as the
// fleet and the backlog grow (issue 15): 10, 100 and 1,000 registered
// runners (in-process gRPC servers with TLS that accept every job at once,
// so that the dispatcher's own cost shows), and 10 runners with 10,000
// queued jobs already in the store. Each line reports jobs/s, p50 and p99.
func BenchmarkDispatchScale(b *testing.B) {
	for _, c := range []struct{ runners, queued int }{{10, 0}, {100, 0}, {1000, 0}, {10, 10_000}} {
		b.Run(fmt.Sprintf("runners=%d/queued=%d", c.runners, c.queued), func(b *testing.B) {
			benchScale(b, c.runners, c.queued)
		})
	}
}

func benchScale(b *testing.B, runners, queued int) {
	acc := &acceptLog{at: make(map[string]time.Time, b.N), done: make(chan string, b.N)}
	fleet := startBenchRunners(b, runners, func() rpc.RunnerService { return nopRunner{acc} })
	st, err := sqlite.OpenWith(context.Background(), benchDB(b), sqlite.Options{Exclusive: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	registerRunners(b, st, fleet, benchNopSlots)
	backlog(b, st, queued)
	measureDispatch(b, st, fleet, createJobs(b, st, b.N), acc)
}

// measureDispatch publishes jobs to a dispatcher on st (memq, the client
// Pool to fleet) and reports jobs/s, the p50/p99 of queue→accept, and the
// CPU time per job of the whole process: the dispatcher, the in-process
// runners' side of each Run and the publisher (testenv.CPUClock).
func measureDispatch(b *testing.B, st *sqlite.Store, fleet benchFleet, jobs []ci.Job, acc *acceptLog) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := memq.New(memq.Config{})
	defer q.Close()
	pool := dispatch.NewPool(rpc.ClientConfig{CAPEM: fleet.cert, Token: fleet.token, CallTimeout: 5 * time.Second}, nil)
	defer pool.Close()
	d := dispatch.New(dispatch.Config{}, dispatch.Deps{Store: st, Queue: q, Clients: pool, Logger: benchQuiet()})
	var consumed sync.WaitGroup
	consumed.Add(1)
	go func() { defer consumed.Done(); _ = q.Consume(ctx, ci.QueueJobs, benchPrefetch, d.HandleJob) }()
	warmPool(b, ctx, st, pool)

	b.ResetTimer()
	stop := profileDispatch(b)
	cpu := testenv.StartCPU(b, 0)
	start := time.Now()
	published := publishAll(b, ctx, q, jobs, acc)
	elapsed := time.Since(start)
	stop()
	b.StopTimer()
	cpu.ReportPerOp(b, len(jobs), "cpu-us/job")
	cancel()
	consumed.Wait()
	reportDispatch(b, jobs, published, acc, elapsed)
}

// profileDispatch starts a CPU profile of the measured part alone (not the
// setup's thousands of creates) into $NARWHAL_BENCH_CPUPROFILE when it is
// set, and returns what stops it.
func profileDispatch(b *testing.B) func() {
	path := os.Getenv("NARWHAL_BENCH_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }
}

// backlog stores n queued jobs of other commits that nobody publishes.
func backlog(b *testing.B, st *sqlite.Store, n int) {
	now := time.Now().UTC().Add(-time.Hour)
	for i := range n {
		repo, sha := fmt.Sprintf("acme/old%d", i%20), fmt.Sprintf("%040x", 1<<40+i)
		j := ci.Job{ID: ci.JobID(repo, sha, ci.EventPush, 0), Repo: repo, SHA: sha,
			CloneURL: "https://github.com/" + repo + ".git", Ref: "refs/heads/main", Branch: "main",
			Event: ci.EventPush, Status: ci.StatusQueued, Attempt: 1, Published: true, CreatedAt: now}
		if _, err := st.CreateJob(context.Background(), j); err != nil {
			b.Fatal(err)
		}
	}
}

// warmPool connects pool to every registered runner before the measured
// part, as a dispatcher that has been running a while is: the figures are of
// dispatching, not of TLS handshakes (a thousand of them when the jobs spread
// over a thousand runners).
func warmPool(b *testing.B, ctx context.Context, st *sqlite.Store, pool *dispatch.Pool) {
	runners, err := st.ListRunners(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range runners {
		c, err := pool.Client(ctx, r)
		if err != nil {
			b.Fatal(err)
		}
		if hc, ok := c.(interface {
			Health(context.Context) (bool, error)
		}); ok {
			if _, err := hc.Health(ctx); err != nil {
				b.Fatalf("warm the connection to %s: %v", r.ID, err)
			}
		}
	}
}
