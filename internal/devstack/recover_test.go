package devstack

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor/fake"
	"github.com/narwhal-ci/narwhal/internal/store/dynamo"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// captureLog points cfg's logger at a buffer as well as the test's output.
func captureLog(t *testing.T, cfg *Config) *testenv.Buffer {
	b := &testenv.Buffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(&teeWriter{b, t.Output()}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return b
}

type teeWriter struct {
	a, b interface{ Write([]byte) (int, error) }
}

func (w *teeWriter) Write(p []byte) (int, error) { w.a.Write(p); return w.b.Write(p) }

// TestRecoverySkipsTooLargeJob: a job that an earlier run left running, whose
// record is so near DynamoDB's item size that the requeue cannot be written,
// neither keeps the stack from starting nor stays running: it ends in error
// with the reason, and the other interrupted job is requeued and runs.
func TestRecoverySkipsTooLargeJob(t *testing.T) {
	// Not parallel: testenv.AWSEndpoint sets the AWS variables.
	cfg := testConfig(t)
	cfg.AWSEndpoint = testenv.AWSEndpoint(t)
	cfg.Table = uniqueName(t, "narwhal-dev-")
	cfg.Exec = fake.New()
	cfg.Heartbeat = time.Second // moto takes tens of milliseconds per call
	logs := captureLog(t, &cfg)
	ctx := context.Background()
	st, _, _, err := openStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	name, err := runnerName(cfg.Dir)
	if err != nil {
		t.Fatal(err)
	}
	commit := newRepo(t, map[string]string{"narwhal.yml": twoSteps})
	interrupted := func(sha string) ci.Job {
		return ci.Job{ID: ci.JobID(commit.Repo, sha, ci.EventPush, 0), Repo: commit.Repo, CloneURL: commit.CloneURL,
			SHA: sha, Ref: "refs/heads/main", Branch: "main", Event: ci.EventPush, Status: ci.StatusRunning,
			Attempt: 1, Published: true, RunnerID: name + "-1", StartedAt: time.Now()}
	}
	big := interrupted(strings.Repeat("b", 40))
	createNearLimit(t, st, &big, largestMessage(t, st, big))
	good := interrupted(commit.SHA)
	if _, err := st.CreateJob(ctx, good); err != nil {
		t.Fatal(err)
	}

	s, _ := startStack(t, cfg)
	if j := waitJob(t, s, good.ID, 30*time.Second); j.Status != ci.StatusSuccess || j.Attempt != 2 {
		t.Errorf("the other interrupted job: %s on attempt %d, want success on attempt 2", j.Status, j.Attempt)
	}
	j, err := st.GetJob(ctx, big.ID)
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != ci.StatusError || j.Error != ci.TooLargeError {
		t.Errorf("the too large job: %s %q, want error %q", j.Status, j.Error, ci.TooLargeError)
	}
	if !strings.Contains(logs.String(), "recover job: skipped") || !strings.Contains(logs.String(), big.ID) {
		t.Errorf("no log line about the skipped job %s", big.ID)
	}
}

// createNearLimit creates j with a message of about size bytes, a few bytes
// shorter when the item is refused (moto's item size of two jobs of equal
// lengths can differ by a byte or two).
func createNearLimit(t *testing.T, st ci.Store, j *ci.Job, size int) {
	t.Helper()
	for try := 0; try < 16; try++ {
		j.Message = strings.Repeat("m", size-8*try)
		_, err := st.CreateJob(context.Background(), *j)
		if err == nil {
			return
		}
		if !errors.Is(err, ci.ErrTooLarge) {
			t.Fatal(err)
		}
	}
	t.Fatalf("job %s refused as too large even 128 bytes below the limit", j.ID)
}

// largestMessage finds the longest Message that j can be created with in st
// (DynamoDB's 400 KB item size), with jobs of other IDs of the same length.
func largestMessage(t *testing.T, st ci.Store, j ci.Job) int {
	t.Helper()
	lo, hi := 300_000, 410_000 // created fine, refused
	for n := 0; hi-lo > 1; n++ {
		mid := (lo + hi) / 2
		probe := j
		probe.ID, probe.Message = fmt.Sprintf("probe%0*d", len(j.ID)-5, n), strings.Repeat("m", mid)
		if _, err := st.CreateJob(context.Background(), probe); err == nil {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// TestRecoverySkipsUnreadableRecords: a job record the store cannot decode
// (a corrupt row) is logged at start, and the stack starts all the same.
func TestRecoverySkipsUnreadableRecords(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Exec = fake.New()
	logs := captureLog(t, &cfg)
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	commit := newRepo(t, map[string]string{"narwhal.yml": twoSteps})
	id := leaveRunningJob(t, cfg.Dir, ci.Job{Repo: commit.Repo, CloneURL: commit.CloneURL,
		SHA: commit.SHA, Ref: "refs/heads/main", Branch: "main", Event: ci.EventPush})
	db, err := sql.Open("sqlite", filepath.Join(cfg.Dir, storeFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE jobs SET doc = '{"id": broken' WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, _ := startStack(t, cfg)
	if !strings.Contains(logs.String(), "recover jobs: cannot list them") {
		t.Errorf("no log line about the unreadable record")
	}
	id2, err := s.Trigger(context.Background(), newRepo(t, map[string]string{"narwhal.yml": twoSteps, "other": "x"}))
	if err != nil {
		t.Fatal(err)
	}
	if j := waitJob(t, s, id2, 20*time.Second); j.Status != ci.StatusSuccess {
		t.Errorf("a job after a start with a bad record: %s", j.Status)
	}
}

var _ ci.Store = (*dynamo.Store)(nil)
