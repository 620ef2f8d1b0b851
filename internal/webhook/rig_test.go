package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/queue/queuetest"
	"github.com/narwhal-ci/narwhal/internal/testenv"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/github"
	"github.com/narwhal-ci/narwhal/internal/intake"
	"github.com/narwhal-ci/narwhal/internal/queue/memq"
	"github.com/narwhal-ci/narwhal/internal/store/sqlite"
)

// testSecret is the documented secret the events/*.json samples are signed with.
const testSecret = "narwhal-test-secret"

// rig is a handler on a real SQLite store and an in-memory queue.
type rig struct {
	h      *Handler
	in     *intake.Intake
	store  *sqlite.Store
	queue  ci.Queue
	flaky  *queuetest.Flaky // queue, when newRig made it
	logBuf *syncBuffer
}

// syncBuffer keeps a logger's JSON lines.
type syncBuffer struct{ testenv.Buffer }

// lines returns the JSON log lines written so far.
func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func newRig(t testing.TB, path string, secrets SecretSource) *rig {
	return newRigOn(t, path, secrets, &queuetest.Flaky{Queue: memq.New(memq.Config{})})
}

// newRigOn is newRig on q. The benchmarks give a bare memq, as narwhal dev
// runs: a Flaky queue is not queue.Volatile, so the intake marks its jobs
// published after each publish.
func newRigOn(t testing.TB, path string, secrets SecretSource, q ci.Queue) *rig {
	t.Helper()
	st, err := sqlite.OpenWith(context.Background(), path, sqlite.Options{Exclusive: true}) // as narwhal dev
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close(); st.Close() })
	buf := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(buf, nil))
	in := &intake.Intake{Store: st, Queue: q, Logger: log}
	if secrets == nil {
		secrets = SecretLines(testSecret)
	}
	h := NewHandler(Deps{Intake: in, Secrets: secrets, Logger: log})
	flaky, _ := q.(*queuetest.Flaky)
	return &rig{h: h, in: in, store: st, queue: q, flaky: flaky, logBuf: buf}
}

// post sends d to the handler as an HTTP request and decodes the JSON
// answer.
func (r *rig) post(t testing.TB, d delivery) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, d.request())
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("content type %q", ct)
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("response body %q: %v", rec.Body.String(), err)
	}
	return rec.Code, body
}

// jobs returns every stored job.
func (r *rig) jobs(t testing.TB) []ci.Job {
	t.Helper()
	page, err := r.store.ListJobs(context.Background(), ci.JobFilter{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	return page.Jobs
}

// drain consumes the job queue until it is quiet and returns the messages.
func (r *rig) drain(t testing.TB) []ci.Message {
	t.Helper()
	var mu sync.Mutex
	var got []ci.Message
	ctx, cancel := context.WithCancel(context.Background())
	quiet := time.AfterFunc(300*time.Millisecond, cancel)
	err := r.queue.Consume(ctx, ci.QueueJobs, 64, func(_ context.Context, d ci.Delivery) error {
		mu.Lock()
		got = append(got, d.Message)
		mu.Unlock()
		quiet.Reset(300 * time.Millisecond)
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("consume: %v", err)
	}
	return got
}

// delivery describes a webhook to build.
type delivery struct {
	event, id   string
	body        []byte
	contentType string
	secret      string // "" means testSecret
	sigHeader   *string
}

// request returns d as the HTTP request GitHub sends.
func (d delivery) request() *http.Request {
	secret := d.secret
	if secret == "" {
		secret = testSecret
	}
	sig := github.Sign(d.body, []byte(secret))
	if d.sigHeader != nil {
		sig = *d.sigHeader
	}
	ct := d.contentType
	if ct == "" {
		ct = "application/json"
	}
	r := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(d.body))
	r.Header.Set("Content-Type", ct)
	r.Header.Set("User-Agent", "GitHub-Hookshot/test")
	for k, v := range map[string]string{"X-GitHub-Event": d.event, "X-GitHub-Delivery": d.id, "X-Hub-Signature-256": sig} {
		if v != "" {
			r.Header.Set(k, v)
		}
	}
	return r
}

// pushBody returns a push payload for sha.
func pushBody(t testing.TB, sha, message string) []byte {
	t.Helper()
	b, err := github.PushPayload(github.Commit{Repo: "acme/app", CloneURL: "https://example.test/acme/app.git",
		SHA: sha, Branch: "main", Message: message, Author: "Ada", Email: "ada@example.test",
		Time: time.Date(2025, 1, 10, 9, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
