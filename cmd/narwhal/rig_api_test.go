package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/api"
	"github.com/narwhal-ci/narwhal/internal/api/apitest"
	blobfs "github.com/narwhal-ci/narwhal/internal/blob/fs"
	"github.com/narwhal-ci/narwhal/internal/ci"
	logfs "github.com/narwhal-ci/narwhal/internal/logstore/fs"
	"github.com/narwhal-ci/narwhal/internal/secrets"
	"github.com/narwhal-ci/narwhal/internal/secrets/embedded"
	"github.com/narwhal-ci/narwhal/internal/store/sqlite"
)

const apiTestToken = "cli-test-token"

// apiRig is the REST API (internal/api over SQLite, a directory log store,
// the apitest operations and an embedded secret store) behind an httptest
// server.
type apiRig struct {
	srv     *httptest.Server
	store   *sqlite.Store
	logs    *logfs.Store
	secrets *secrets.Store
	blobs   *blobfs.Store // the artifacts
}

func newAPIRig(t *testing.T) *apiRig {
	t.Helper()
	return newAPIRigWith(t, nil)
}

// newAPIRigWith is newAPIRig with change applied to the API's dependencies.
func newAPIRigWith(t *testing.T, change func(*api.Deps)) *apiRig {
	t.Helper()
	st, err := sqlite.Open(t.Context(), sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sb, err := embedded.Open(t.Context(), filepath.Join(dir, "narwhal.db"), filepath.Join(dir, "secrets.key"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	r := &apiRig{store: st, logs: logfs.New(t.TempDir()), secrets: secrets.New(sb), blobs: blobfs.New(t.TempDir())}
	d := api.Deps{Jobs: st, Runners: st, Ops: apitest.New(st), Logs: r.logs, Secrets: r.secrets, Artifacts: r.blobs,
		Tokens: []string{apiTestToken}, Logger: slog.New(slog.DiscardHandler),
		FollowWait: time.Second, FollowPoll: 10 * time.Millisecond}
	if change != nil {
		change(&d)
	}
	r.srv = httptest.NewServer(api.New(d))
	t.Cleanup(func() { r.srv.Close(); st.Close() })
	return r
}

// cli runs a command against the rig's API and returns its output.
func (r *apiRig) cli(t *testing.T, cmd func(context.Context, []string, io.Writer, io.Writer) error, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append([]string{"--api", r.srv.URL, "--token", apiTestToken}, args...)
	err := cmd(context.Background(), args, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// job creates job n (IDs job01, job02, ...), created minutes ago.
func (r *apiRig) job(t *testing.T, n int, change func(*ci.Job)) ci.Job {
	t.Helper()
	j := ci.Job{ID: fmt.Sprintf("job%02d", n), Repo: "acme/app", CloneURL: "https://github.com/acme/app.git",
		SHA: fmt.Sprintf("6f1d0c3%033x", n), Ref: "refs/heads/main", Branch: "main", Event: ci.EventPush,
		Status: ci.StatusQueued, Attempt: 1, Author: "ada", Message: "Add narwhal.yml\n\nWith a test step.",
		CreatedAt: time.Now().Add(-time.Duration(1000-n) * time.Minute)}
	if change != nil {
		change(&j)
	}
	created, err := r.store.CreateJob(context.Background(), j)
	if err != nil {
		t.Fatal(err)
	}
	return created
}
