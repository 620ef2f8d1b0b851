package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/api"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor/fake"
	"github.com/narwhal-ci/narwhal/internal/github"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// testConfig is a fast stack for tests: a loopback port, short heartbeats.
func testConfig(t *testing.T) Config {
	return Config{
		Addr: "127.0.0.1:0", Dir: filepath.Join(t.TempDir(), ".narwhal"), Runners: 2, Capacity: 2,
		Heartbeat: 500 * time.Millisecond, MonitorEvery: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// startStack starts a stack; it is stopped (and waited for) when the test ends.
func startStack(t *testing.T, cfg Config) (*Stack, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Start(ctx, cfg)
	if err != nil {
		cancel()
		if cfg.Executor == ExecDocker {
			testenv.Missing(t, "Docker ("+err.Error()+")")
		}
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := s.Wait(); err != nil {
			t.Errorf("stack: %v", err)
		}
	})
	return s, cancel
}

// newRepo makes a git repository holding narwhal.yml (and more files) and
// returns its commit.
func newRepo(t *testing.T, files map[string]string) github.Commit {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	for name, body := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := commitAll(context.Background(), dir, "test commit")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// apiGet calls the stack's REST API with its token and decodes the answer.
func apiGet(t *testing.T, s *Stack, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.Info().APIURL+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.APIToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, %v", path, resp.StatusCode, err)
	}
}

// finishedJob starts a stack whose runners use ex, pushes a repository
// holding narwhal.yml yml, and returns the stack and the job once it ended
// with status want.
func finishedJob(t *testing.T, ex *fake.Executor, yml string, want ci.Status) (*Stack, ci.Job) {
	t.Helper()
	cfg := testConfig(t)
	cfg.Exec = ex
	s, _ := startStack(t, cfg)
	id, err := s.Trigger(context.Background(), newRepo(t, map[string]string{"narwhal.yml": yml}))
	if err != nil {
		t.Fatal(err)
	}
	j := waitJob(t, s, id, 20*time.Second)
	if j.Status != want {
		t.Fatalf("job %s: %s (%s), want %s", id, j.Status, j.Error, want)
	}
	return s, j
}

// waitJob polls the API until job id is final, and returns it. The stack
// applies runner reports several at a time, so a step's last report may land
// a moment after the job's final one: once the job is final, waitJob also
// waits up to stepSettle for no step to be running (a step of a runner that
// died stays running; its test sees it so).
func waitJob(t *testing.T, s *Stack, id string, within time.Duration) ci.Job {
	t.Helper()
	deadline := time.Now().Add(within)
	var settle time.Time
	for {
		var j ci.Job
		apiGet(t, s, "/jobs/"+id, &j)
		if j.Status.Final() && settle.IsZero() {
			settle = time.Now().Add(stepSettle)
		}
		if j.Status.Final() && (!stepRunning(j) || time.Now().After(settle)) {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s after %s (waiting %q)", id, j.Status, within, j.Waiting)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stepSettle bounds how long waitJob waits for a final job's step reports.
const stepSettle = 2 * time.Second

func stepRunning(j ci.Job) bool {
	for _, st := range j.Steps {
		if st.Status == ci.StepRunning {
			return true
		}
	}
	return false
}

// waitStatus polls the API until job id has status want.
func waitStatus(t *testing.T, s *Stack, id string, want ci.Status, within time.Duration) ci.Job {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var j ci.Job
		apiGet(t, s, "/jobs/"+id, &j)
		if j.Status == want {
			return j
		}
		if j.Status.Final() || time.Now().After(deadline) {
			t.Fatalf("job %s is %s, want %s", id, j.Status, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// jobLog reads the whole log of a finished job through the API.
func jobLog(t *testing.T, s *Stack, id string) string {
	t.Helper()
	var b strings.Builder
	var offset int64
	for range 100 {
		var chunk api.LogChunk
		apiGet(t, s, fmt.Sprintf("/jobs/%s/logs?offset=%d", id, offset), &chunk)
		b.WriteString(chunk.Data)
		offset = chunk.Offset
		if chunk.Complete {
			return b.String()
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("log of job %s never completed; so far:\n%s", id, b.String())
	return ""
}

// scrape fetches the metrics page.
func scrape(t *testing.T, s *Stack) string {
	t.Helper()
	resp, err := http.Get(s.Info().MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	return string(data)
}

// jsonString renders v for failure messages.
func jsonString(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}
