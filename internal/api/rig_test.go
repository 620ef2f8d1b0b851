package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/api"
	"github.com/narwhal-ci/narwhal/internal/api/apitest"
	"github.com/narwhal-ci/narwhal/internal/ci"
	logfs "github.com/narwhal-ci/narwhal/internal/logstore/fs"
	"github.com/narwhal-ci/narwhal/internal/store/sqlite"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

const token = "s3cret-token"

// rig is the API over a real SQLite store, a real directory log store and
// the apitest operations.
type rig struct {
	h     http.Handler
	store *sqlite.Store
	logs  *logfs.Store
	ops   *apitest.Ops
	log   *syncBuffer
}

// newRig builds the API; change may adjust its dependencies.
func newRig(t *testing.T, change func(*api.Deps)) *rig {
	t.Helper()
	st, err := sqlite.Open(t.Context(), sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := &rig{store: st, logs: logfs.New(t.TempDir()), ops: apitest.New(st), log: &syncBuffer{}}
	d := api.Deps{Jobs: st, Runners: st, Ops: r.ops, Logs: r.logs, Tokens: []string{"other-token", token},
		Logger:     slog.New(slog.NewJSONHandler(r.log, nil)),
		FollowWait: 2 * time.Second, FollowPoll: 10 * time.Millisecond}
	if change != nil {
		change(&d)
	}
	r.h = api.New(d)
	return r
}

// response is what a request got.
type response struct {
	status int
	header http.Header
	body   []byte
}

// decode unmarshals the body into v, failing the test on error.
func (resp response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(resp.body, v); err != nil {
		t.Fatalf("decode %s: %v", resp.body, err)
	}
}

// errorText is the "error" of a JSON error body.
func (resp response) errorText(t *testing.T) string {
	t.Helper()
	var e api.ErrorBody
	resp.decode(t, &e)
	return e.Error
}

// do sends an authenticated request.
func (r *rig) do(t *testing.T, method, target string) response {
	t.Helper()
	return r.send(t, method, target, "Bearer "+token)
}

// send sends a request with the given Authorization header ("" for none).
func (r *rig) send(t *testing.T, method, target, authorization string) response {
	t.Helper()
	return r.sendBody(t, method, target, authorization, "")
}

// sendBody is send with a request body.
func (r *rig) sendBody(t *testing.T, method, target, authorization, body string) response {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// expect checks the status and, for errors, the JSON error shape.
func expect(t *testing.T, resp response, status int) {
	t.Helper()
	if resp.status != status {
		t.Fatalf("status = %d, want %d; body %s", resp.status, status, resp.body)
	}
	if ct := resp.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if status >= 400 && resp.errorText(t) == "" {
		t.Errorf("error response without an error message: %s", resp.body)
	}
}

// base is the creation time of the first seeded job.
var base = time.Date(2025, 1, 10, 9, 0, 0, 0, time.UTC)

// seedJob creates a job; n orders jobs (job n+1 is created a minute later).
func seedJob(t *testing.T, st ci.Store, n int, change func(*ci.Job)) ci.Job {
	t.Helper()
	j := ci.Job{ID: fmt.Sprintf("job%02d", n), Repo: "acme/app", CloneURL: "https://github.com/acme/app.git",
		SHA: fmt.Sprintf("%040x", n), Ref: "refs/heads/main", Branch: "main", Event: ci.EventPush,
		Status: ci.StatusQueued, Attempt: 1, CreatedAt: base.Add(time.Duration(n) * time.Minute)}
	if change != nil {
		change(&j)
	}
	created, err := st.CreateJob(context.Background(), j)
	if err != nil {
		t.Fatal(err)
	}
	return created
}

// putLog writes the chunks of a job's log and finishes it when finish.
func (r *rig) putLog(t *testing.T, jobID string, finish bool, chunks ...string) {
	t.Helper()
	for i, c := range chunks {
		if err := r.logs.PutChunk(context.Background(), jobID, i, []byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	if finish {
		if err := r.logs.Finish(context.Background(), jobID); err != nil {
			t.Fatal(err)
		}
	}
}

// syncBuffer keeps a logger's JSON lines.
type syncBuffer struct{ testenv.Buffer }

// lines returns the JSON log lines written so far.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	dec := json.NewDecoder(strings.NewReader(b.String()))
	for {
		var m map[string]any
		if err := dec.Decode(&m); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
