package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// The benchmarks run one runnerd process in scale mode (the fake executor
// on a built-in one-step pipeline, no clone; reports to the file sink
// through the outbox; logs to the fs store) and call it over real gRPC with
// TLS from benchConcurrency goroutines. Run them with -benchtime 1x for the
// leak check; scripts/bench.sh does:
//
//	go test -run '^$' -bench BenchmarkRunnerd -benchtime 1x ./runnerd

// benchConcurrency is how many Run calls are in flight at once.
const benchConcurrency = 32

// BenchmarkRunnerdAccept measures Run calls into one runnerd whose slots
// take the whole burst of 5,000 jobs: accepted jobs/s and the p50 and p99
// latency of a Run call over gRPC with TLS, then how long the daemon took to
// run and report all of them (done-jobs/s; every report is synced to disk
// before the job goes on) and the daemon's CPU time per job over the burst
// (daemon-cpu-ms/job, which moves less with the machine's other load), and
// its idle RSS before the load. Two log stores side by side: logs=disk is
// the fs store in the test's temp dir, beside the workspaces and the outbox
// (a synced file per log); logs=elsewhere puts it on tmpfs (/dev/shm), which
// stands for a deployed runner's S3, off the runner's disk, so that the
// figure is the runner's own path: slots, workspaces, outbox and reports.
func BenchmarkRunnerdAccept(b *testing.B) {
	b.Run("logs=disk", func(b *testing.B) { benchAccept(b, "") })
	b.Run("logs=elsewhere", func(b *testing.B) { benchAccept(b, shmDir(b)) })
}

// benchAccept is BenchmarkRunnerdAccept with the fs log store in logDir, or
// in the runner's temp dir when logDir is "".
func benchAccept(b *testing.B, logDir string) {
	const n = 5000
	o := daemonOpts{scale: true, capacity: n, logLevel: "info"}
	if logDir != "" {
		o.logsYAML = fmt.Sprintf("logs:\n  dir: %s\n", logDir)
	}
	p := startRunnerd(b, o)
	idleRSS := rssKiB(b, p.Cmd.Process.Pid)
	cpu := testenv.StartCPU(b, p.Cmd.Process.Pid)
	b.ResetTimer()
	start := time.Now()
	lat, rejected := runJobs(b, p.client, "accept", n, false)
	accepting := time.Since(start)
	waitIdle(b, p)
	done := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/accepting.Seconds(), "accepted/s")
	b.ReportMetric(float64(rejected), "rejected")
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
	b.ReportMetric(float64(n)/done.Seconds(), "done-jobs/s")
	b.ReportMetric(float64(idleRSS)/1024, "idle-rss-MiB")
	b.ReportMetric(ms(cpu.Used(b))/n, "daemon-cpu-ms/job")
}

// shmDir is a directory on tmpfs, removed when b ends.
func shmDir(b *testing.B) string {
	dir, err := os.MkdirTemp("/dev/shm", "narwhal-bench-logs-")
	if err != nil {
		b.Fatalf("a directory on tmpfs for the logs: %v", err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// BenchmarkRunnerdLeak runs 20,000 jobs (NARWHAL_BENCH_LEAK_JOBS to change
// it) through one runnerd with a capacity of 256, retrying Run while the
// runner is full, and reports its open file descriptors and RSS after a
// warm-up of 1,000 jobs and at the end, once it is idle again. Flat is good;
// the original narwhal's runner failed every job with "too many open files"
// after about 9,000.
func BenchmarkRunnerdLeak(b *testing.B) {
	jobs := 20000
	if v, err := strconv.Atoi(os.Getenv("NARWHAL_BENCH_LEAK_JOBS")); err == nil && v > 0 {
		jobs = v
	}
	p := startRunnerd(b, daemonOpts{scale: true, capacity: 256, logLevel: "info"})
	pid := p.Cmd.Process.Pid
	runJobs(b, p.client, "warm", 1000, true)
	waitIdle(b, p)
	fdBefore, rssBefore := fdCount(b, pid), rssKiB(b, pid)
	b.ResetTimer()
	start := time.Now()
	runJobs(b, p.client, "leak", jobs, true)
	waitIdle(b, p)
	elapsed := time.Since(start)
	b.StopTimer()
	fdAfter, rssAfter := fdCount(b, pid), rssKiB(b, pid)
	failed := p.metric(`narwhal_runner_jobs_total{status="error"}`) + p.metric(`narwhal_runner_jobs_total{status="failure"}`)
	b.ReportMetric(float64(jobs)/elapsed.Seconds(), "jobs/s")
	b.ReportMetric(float64(fdBefore), "fd-before")
	b.ReportMetric(float64(fdAfter), "fd-after")
	b.ReportMetric(float64(rssBefore)/1024, "rss-before-MiB")
	b.ReportMetric(float64(rssAfter)/1024, "rss-after-MiB")
	b.ReportMetric(max(failed, 0), "failed-jobs")
	if fdAfter > fdBefore+16 {
		b.Errorf("file descriptors grew from %d to %d", fdBefore, fdAfter)
	}
}

// runJobs makes n Run calls from benchConcurrency goroutines and returns
// the latencies of the accepting calls and the number of rejections. With
// retry, a rejected job is tried again (after a millisecond) until accepted.
func runJobs(b *testing.B, c *rpc.Client, prefix string, n int, retry bool) ([]time.Duration, int) {
	var next, rejected atomic.Int64
	lats := make([][]time.Duration, benchConcurrency)
	var wg sync.WaitGroup
	for w := range benchConcurrency {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				job := repoJob(prefix+"-"+strconv.FormatInt(i, 10), "file:///scale", strings.Repeat("a", 40))
				for {
					t0 := time.Now()
					ok, reason, err := c.Run(context.Background(), job)
					if err != nil {
						b.Errorf("run %s: %v", job.ID, err)
						return
					}
					if ok {
						lats[w] = append(lats[w], time.Since(t0))
						break
					}
					rejected.Add(1)
					if !retry {
						break
					}
					if !strings.HasPrefix(reason, "runner full") {
						b.Errorf("run %s: %s", job.ID, reason)
						return
					}
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	return slices.Concat(lats...), int(rejected.Load())
}

// waitIdle waits until the runner runs nothing and its outbox is empty.
func waitIdle(b *testing.B, p *proc) {
	eventually(b, 5*time.Minute, "runnerd idle", func() bool {
		st, err := p.client.Stats(context.Background())
		return err == nil && len(st.Running) == 0 && p.metric("narwhal_runner_reports_pending") == 0
	})
}

// fdCount counts the open file descriptors of process pid.
func fdCount(b *testing.B, pid int) int {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		b.Fatal(err)
	}
	return len(entries)
}

// rssKiB reads the resident set size of process pid from /proc.
func rssKiB(b *testing.B, pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kib, _ := strconv.Atoi(strings.Fields(rest)[0])
			return kib
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
