package devstack

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/apiclient"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor/docker"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// BenchmarkWebhookToFirstStep measures, in a `narwhal dev` stack on Docker
// with one runner, the time from sending a push webhook to the start of the
// first step's container, next to a plain `docker run --rm IMAGE true` timed
// in the same loop. The signal is the daemon's own "start" event for a
// container labelled with the stack's runner and a step (docker events
// --filter label=io.narwhal.runner=<id> --filter label=io.narwhal.step), at
// the event's daemon timestamp. It reports the p50 of both and their
// difference in ms.
func BenchmarkWebhookToFirstStep(b *testing.B) {
	image := testenv.Image(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	name := fmt.Sprintf("bench%d", os.Getpid())
	s, err := Start(ctx, Config{Addr: "127.0.0.1:0", Dir: filepath.Join(b.TempDir(), ".narwhal"),
		Executor: ExecDocker, Runners: 1, RunnerName: name})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { cancel(); _ = s.Wait() }()
	starts := watchStarts(b, ctx, name+"-1")
	repo := filepath.Join(b.TempDir(), "repo")
	pipe := fmt.Sprintf("image: %s\nsteps:\n  - name: first\n    commands: [\"true\"]\n", image)
	if err := os.MkdirAll(repo, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "narwhal.yml"), []byte(pipe), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := exec.Command("docker", "run", "--rm", image, "true").Run(); err != nil { // warm up
		b.Fatal(err)
	}
	var stack, raw []float64
	b.ResetTimer()
	for i := range b.N + 1 { // iteration 0 warms the stack and is not counted
		d := webhookToStart(b, ctx, s, repo, i, starts)
		r := dockerRun(b, image)
		if i > 0 {
			stack, raw = append(stack, d), append(raw, r)
		}
	}
	b.StopTimer()
	ps, pr := median(stack), median(raw)
	b.ReportMetric(ps, "webhook-to-step-p50-ms")
	b.ReportMetric(pr, "docker-run-p50-ms")
	b.ReportMetric(ps-pr, "diff-p50-ms")
}

// webhookToStart commits a new revision, sends its webhook, and returns the
// ms until its first step container started; it waits for the job to end.
func webhookToStart(b *testing.B, ctx context.Context, s *Stack, repo string, i int, starts *startWatch) float64 {
	if err := os.WriteFile(filepath.Join(repo, "n"), []byte(strconv.Itoa(i)), 0o644); err != nil {
		b.Fatal(err)
	}
	c, err := commitAll(ctx, repo, fmt.Sprintf("bench %d", i))
	if err != nil {
		b.Fatal(err)
	}
	c.Repo = "local/bench" // one repository for every commit
	sent := time.Now()
	id, err := s.Trigger(ctx, c)
	if err != nil {
		b.Fatal(err)
	}
	started := starts.wait(b, id, 60*time.Second)
	waitFinal(b, s, id, 60*time.Second)
	return float64(started.Sub(sent)) / float64(time.Millisecond)
}

// dockerRun times `docker run --rm image true` in ms.
func dockerRun(b *testing.B, image string) float64 {
	t0 := time.Now()
	if out, err := exec.Command("docker", "run", "--rm", image, "true").CombinedOutput(); err != nil {
		b.Fatalf("docker run: %v: %s", err, out)
	}
	return float64(time.Since(t0)) / float64(time.Millisecond)
}

// startWatch follows `docker events` for step container starts by job ID.
type startWatch struct {
	mu      sync.Mutex
	at      map[string]time.Time
	changed chan struct{}
}

func watchStarts(b *testing.B, ctx context.Context, runnerID string) *startWatch {
	cmd := exec.CommandContext(ctx, "docker", "events", "--filter", "type=container",
		"--filter", "event=start", "--filter", "label="+docker.LabelRunner+"="+runnerID,
		"--filter", "label="+docker.LabelStep,
		"--format", `{{.TimeNano}} {{index .Actor.Attributes "`+docker.LabelJob+`"}}`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	w := &startWatch{at: map[string]time.Time{}, changed: make(chan struct{}, 1)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			ns, job, ok := strings.Cut(sc.Text(), " ")
			n, err := strconv.ParseInt(ns, 10, 64)
			if !ok || err != nil {
				continue
			}
			w.mu.Lock()
			if _, seen := w.at[job]; !seen {
				w.at[job] = time.Unix(0, n)
			}
			w.mu.Unlock()
			select {
			case w.changed <- struct{}{}:
			default:
			}
		}
	}()
	return w
}

// wait returns when job's first step container started.
func (w *startWatch) wait(b *testing.B, job string, within time.Duration) time.Time {
	deadline := time.After(within)
	for {
		w.mu.Lock()
		t, ok := w.at[job]
		w.mu.Unlock()
		if ok {
			return t
		}
		select {
		case <-w.changed:
		case <-deadline:
			b.Fatalf("no step container of job %s started within %s", job, within)
		}
	}
}

// waitFinal polls the API until job id is final.
func waitFinal(b *testing.B, s *Stack, id string, within time.Duration) {
	c, err := apiclient.New(s.Info().APIURL, s.APIToken(), "narwhal-bench")
	if err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if j, err := c.Job(context.Background(), id); err == nil && j.Status.Final() {
			if j.Status != ci.StatusSuccess {
				b.Fatalf("job %s ended %s", id, j.Status)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatalf("job %s not final within %s", id, within)
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// BenchmarkRerunFromLastStep measures, on Docker with one runner, what a
// re-run of examples/hello from its last step (report: build, test and lint
// not run again, the workspace restored) takes against a whole re-run of the
// same job, each from the resubmit to the job's end. It reports the p50 of
// both, in ms, and their ratio.
func BenchmarkRerunFromLastStep(b *testing.B) {
	testenv.Image(b) // the test stack also seeds examples/hello's busybox:1.36
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := filepath.Join(b.TempDir(), ".narwhal")
	s, err := Start(ctx, Config{Addr: "127.0.0.1:0", Dir: dir, Executor: ExecDocker, Runners: 1,
		RunnerName: fmt.Sprintf("rerun%d", os.Getpid())})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { cancel(); _ = s.Wait() }()
	commit, err := DemoRepo(ctx, dir, filepath.Join("..", "..", "examples", "hello"), false)
	if err != nil {
		b.Fatal(err)
	}
	first, err := s.Trigger(ctx, commit)
	if err != nil {
		b.Fatal(err)
	}
	c, err := s.Client()
	if err != nil {
		b.Fatal(err)
	}
	waitFinal(b, s, first, 2*time.Minute)
	var whole, fromLast []float64
	b.ResetTimer()
	for range b.N {
		whole = append(whole, rerun(b, s, c, first, ""))
		fromLast = append(fromLast, rerun(b, s, c, first, "report"))
	}
	b.StopTimer()
	pw, pl := median(whole), median(fromLast)
	b.ReportMetric(pw, "whole-rerun-p50-ms")
	b.ReportMetric(pl, "from-last-step-p50-ms")
	b.ReportMetric(pl/pw, "ratio")
}

// rerun resubmits job id (from step from, or whole) and returns the ms from
// the resubmit to the new job's successful end.
func rerun(b *testing.B, s *Stack, c *apiclient.Client, id, from string) float64 {
	start := time.Now()
	j, err := c.ResubmitFrom(context.Background(), id, from)
	if err != nil {
		b.Fatal(err)
	}
	waitFinal(b, s, j.ID, 2*time.Minute)
	return float64(time.Since(start).Microseconds()) / 1000
}
