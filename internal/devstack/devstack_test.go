package devstack

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/api"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor/fake"
	"github.com/narwhal-ci/narwhal/internal/store/sqlite"
)

const twoSteps = `name: two
image: busybox
steps:
  - name: build
    commands: [echo build]
  - name: test
    depends_on: [build]
    commands: [echo test]
`

// TestWebhookToSuccess follows one push through the whole path: signed
// webhook → agent → store and queue → dispatcher → gRPC Run on a runner →
// engine on the (fake) executor → reports through the outbox and queue →
// job state, steps and log visible through the REST API.
func TestWebhookToSuccess(t *testing.T) {
	t.Parallel()
	ex := fake.New()
	ex.Script("build", fake.Outcome{Output: fake.Lines("compiling narwhal", "built ok")})
	cfg := testConfig(t)
	cfg.Exec = ex
	s, _ := startStack(t, cfg)
	commit := newRepo(t, map[string]string{"narwhal.yml": twoSteps})

	id, err := s.Trigger(context.Background(), commit)
	if err != nil {
		t.Fatal(err)
	}
	if id != ci.JobID(commit.Repo, commit.SHA, ci.EventPush, 0) {
		t.Errorf("job ID %s is not the deterministic one", id)
	}
	j := waitJob(t, s, id, 20*time.Second)
	if j.Status != ci.StatusSuccess || j.RunnerID == "" || j.StartedAt.IsZero() || j.FinishedAt.IsZero() {
		t.Fatalf("job: %s", jsonString(j))
	}
	if len(j.Steps) != 2 || j.Steps[0].Status != "success" || j.Steps[1].Status != "success" {
		t.Errorf("steps: %s", jsonString(j.Steps))
	}
	log := jobLog(t, s, id)
	if !strings.Contains(log, "build | compiling narwhal\n") {
		t.Errorf("log lacks the build output:\n%s", log)
	}
	// A redelivery of the same commit finds the same job.
	again, err := s.Trigger(context.Background(), commit)
	if err != nil || again != id {
		t.Errorf("second webhook: job %q, %v; want %s", again, err, id)
	}
	var rs api.RunnerList
	apiGet(t, s, "/runners", &rs)
	if len(rs.Runners) != 2 || rs.Runners[0].State != ci.RunnerActive || rs.Runners[0].Capacity != 2 {
		t.Errorf("runners: %s", jsonString(rs))
	}
}

// TestAPINeedsToken: the REST API refuses requests without the token, the
// webhook refuses unsigned deliveries, and health needs neither.
func TestAPINeedsToken(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Exec = fake.New()
	s, _ := startStack(t, cfg)
	for path, want := range map[string]int{"/api/jobs": 401, "/api/runners": 401, "/api/healthz": 200} {
		resp, err := http.Get(strings.TrimSuffix(s.Info().URL, "/") + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	resp, err := http.Post(s.Info().WebhookURL, "application/json", strings.NewReader(`{"zen":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unsigned webhook: %d, want a refusal", resp.StatusCode)
	}
}

// TestMetrics: /metrics serves the series of docs/dev.md, with the job's
// queue wait, dispatch and duration observed once.
func TestMetrics(t *testing.T) {
	t.Parallel()
	s, _ := finishedJob(t, fake.New(), twoSteps, ci.StatusSuccess)
	want := map[string]func(float64) bool{
		`narwhal_queue_depth`:                                  func(v float64) bool { return v == 0 },
		`narwhal_queue_wait_seconds_count`:                     func(v float64) bool { return v == 1 },
		`narwhal_dispatch_latency_seconds_count`:               func(v float64) bool { return v >= 1 },
		`narwhal_job_duration_seconds_count{status="success"}`: func(v float64) bool { return v == 1 },
		`narwhal_runners{state="active"}`:                      func(v float64) bool { return v == 2 },
		`narwhal_runners{state="offline"}`:                     func(v float64) bool { return v == 0 },
		`narwhal_slot_utilisation`:                             func(v float64) bool { return v >= 0 && v <= 1 },
	}
	// The last report may be applied a moment after the API shows the job
	// final: give the histograms a few scrapes.
	var page string
	for range 50 {
		page = scrape(t, s)
		if allMatch(page, want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	for series, ok := range want {
		if v, found := sample(page, series); !found || !ok(v) {
			t.Errorf("%s = %v (found %v)", series, v, found)
		}
	}
}

func allMatch(page string, want map[string]func(float64) bool) bool {
	for series, ok := range want {
		if v, found := sample(page, series); !found || !ok(v) {
			return false
		}
	}
	return true
}

// sample finds the value of one series in a Prometheus text page.
func sample(page, series string) (float64, bool) {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(page)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}

// TestShutdownCancelsRunningJobs: cancelling the context stops everything:
// the running job ends cancelled in the store, and no goroutine is left.
func TestShutdownCancelsRunningJobs(t *testing.T) {
	// Not parallel: it counts the process's goroutines.
	http.DefaultClient.CloseIdleConnections()
	before := runtime.NumGoroutine()
	ex := fake.New()
	ex.Script("build", fake.Outcome{Output: fake.Lines("started"), Delay: time.Hour})
	cfg := testConfig(t)
	cfg.Exec = ex
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.Trigger(ctx, newRepo(t, map[string]string{"narwhal.yml": twoSteps}))
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, s, id, ci.StatusRunning, 20*time.Second)
	start := time.Now()
	cancel()
	if err := s.Wait(); err != nil {
		t.Fatalf("wait: %v", err)
	}
	t.Logf("shutdown took %s", time.Since(start))
	if time.Since(start) > 15*time.Second {
		t.Errorf("shutdown took %s", time.Since(start))
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(cfg.Dir, storeFile))
	if err != nil {
		t.Fatal(err)
	}
	j, err := st.GetJob(context.Background(), id)
	st.Close()
	if err != nil || j.Status != ci.StatusCancelled {
		t.Errorf("job after shutdown: %s, %v; want cancelled", j.Status, err)
	}
	http.DefaultClient.CloseIdleConnections()
	checkGoroutines(t, before)
}

// checkGoroutines waits a little for goroutines to end and fails when more
// are left than there were before.
func checkGoroutines(t *testing.T, before int) {
	t.Helper()
	var n int
	for range 100 {
		if n = runtime.NumGoroutine(); n <= before {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	t.Errorf("%d goroutines after shutdown, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
}

// TestRestartRequeuesInterruptedJobs: a job an earlier run left running (a
// crash) is queued again at start and runs to the end.
func TestRestartRequeuesInterruptedJobs(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Exec = fake.New()
	commit := newRepo(t, map[string]string{"narwhal.yml": twoSteps})
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	id := leaveRunningJob(t, cfg.Dir, ci.Job{Repo: commit.Repo, CloneURL: commit.CloneURL,
		SHA: commit.SHA, Ref: "refs/heads/main", Branch: "main", Event: ci.EventPush})
	s, _ := startStack(t, cfg)
	j := waitJob(t, s, id, 20*time.Second)
	if j.Status != ci.StatusSuccess || j.Attempt != 2 {
		t.Errorf("job: %s attempt %d; want success on attempt 2", j.Status, j.Attempt)
	}
}

// leaveRunningJob stores a job running on the first runner of the stack in
// dir, as a crashed stack leaves it.
func leaveRunningJob(t *testing.T, dir string, j ci.Job) string {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, storeFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	name, err := runnerName(dir)
	if err != nil {
		t.Fatal(err)
	}
	j.ID = ci.JobID(j.Repo, j.SHA, j.Event, 0)
	j.Status, j.Attempt, j.Published, j.RunnerID = ci.StatusRunning, 1, true, name+"-1"
	j.StartedAt = time.Now()
	if _, err := st.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	return j.ID
}
