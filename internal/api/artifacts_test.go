package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/api"
	blobfs "github.com/narwhal-ci/narwhal/internal/blob/fs"
	"github.com/narwhal-ci/narwhal/internal/ci"
)

// artifact is one file of the test job, its content and whether its blob is
// put in the store.
type artifact struct {
	name, step, content string
	expires             time.Duration // from now; negative: expired
	stored              bool
}

var testArtifacts = []artifact{
	{name: "dist/app v1.tar.gz", step: "build", content: "the tarball's bytes\x00\x01", expires: 7 * 24 * time.Hour, stored: true},
	{name: "coverage.out", step: "test", content: "mode: set\n", expires: time.Hour, stored: true},
	{name: "old/report.txt", step: "test", content: "gone", expires: -time.Hour, stored: true},
	{name: "lost.bin", step: "test", content: "never stored", expires: time.Hour},
}

// seedArtifacts creates job01 with testArtifacts on its steps (and a cache
// use on build), putting the stored ones under their keys in store.
func seedArtifacts(t *testing.T, st ci.Store, store *blobfs.Store) ci.Job {
	t.Helper()
	steps := map[string]*ci.Step{"build": {Name: "build", Status: ci.StepSuccess,
		Caches: []ci.CacheUse{{Key: "go-3f2a-amd64", Hit: true, Restored: "go-3f2a-amd64", RestoredBytes: 812 << 20}}},
		"test": {Name: "test", Status: ci.StepSuccess}}
	for i, a := range testArtifacts {
		sum := sha256.Sum256([]byte(a.content))
		key := fmt.Sprintf("artifacts/acme/app/job01/%d", i)
		steps[a.step].Artifacts = append(steps[a.step].Artifacts, ci.Artifact{Name: a.name, Step: a.step,
			Size: int64(len(a.content)), SHA256: hex.EncodeToString(sum[:]), Key: key, ExpiresAt: time.Now().Add(a.expires)})
		if a.stored {
			if err := store.Put(context.Background(), key, strings.NewReader(a.content)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return seedJob(t, st, 1, func(j *ci.Job) {
		j.Status = ci.StatusSuccess
		j.Steps = []ci.Step{*steps["build"], *steps["test"]}
	})
}

func TestArtifactsListed(t *testing.T) {
	t.Parallel()
	store := blobfs.New(t.TempDir())
	r := newRig(t, func(d *api.Deps) { d.Artifacts = store })
	seedArtifacts(t, r.store, store)

	resp := r.do(t, http.MethodGet, "/jobs/job01/artifacts")
	expect(t, resp, http.StatusOK)
	if bytes.Contains(resp.body, []byte(`"key"`)) || bytes.Contains(resp.body, []byte("artifacts/acme")) {
		t.Errorf("the listing shows blob keys: %s", resp.body)
	}
	var list api.ArtifactList
	resp.decode(t, &list)
	if len(list.Artifacts) != len(testArtifacts) {
		t.Fatalf("%d artifacts, want %d: %s", len(list.Artifacts), len(testArtifacts), resp.body)
	}
	first := list.Artifacts[0]
	if first.Name != "dist/app v1.tar.gz" || first.Step != "build" || first.Size != 21 || len(first.SHA256) != 64 ||
		first.Expired || first.URL != "/jobs/job01/artifacts/dist/app%20v1.tar.gz" {
		t.Errorf("first artifact %+v", first)
	}
	if old := list.Artifacts[2]; !old.Expired || old.URL != "" || old.Name != "old/report.txt" {
		t.Errorf("the expired artifact is listed as %+v, want expired without a URL", old)
	}

	expect(t, r.do(t, http.MethodGet, "/jobs/nope/artifacts"), http.StatusNotFound)
	expect(t, r.do(t, http.MethodGet, "/jobs/job01/artifacts?x=1"), http.StatusBadRequest)
	seedJob(t, r.store, 2, nil)
	if resp := r.do(t, http.MethodGet, "/jobs/job02/artifacts"); strings.TrimSpace(string(resp.body)) != `{"artifacts":[]}` {
		t.Errorf("a job without artifacts: %s", resp.body)
	}
}

// TestJobViewHidesBlobKeys: every answer that carries a job carries its
// artifacts without their keys, and its cache uses as recorded.
func TestJobViewHidesBlobKeys(t *testing.T) {
	t.Parallel()
	store := blobfs.New(t.TempDir())
	r := newRig(t, func(d *api.Deps) { d.Artifacts = store })
	seedArtifacts(t, r.store, store)
	for _, target := range []string{"/jobs/job01", "/jobs", "/jobs?repo=acme/app"} {
		resp := r.do(t, http.MethodGet, target)
		expect(t, resp, http.StatusOK)
		if bytes.Contains(resp.body, []byte("artifacts/acme")) { // a cache use has a "key": the cache's
			t.Errorf("%s shows blob keys: %s", target, resp.body)
		}
		for _, want := range []string{`"caches":[{"key":"go-3f2a-amd64","hit":true`, `"url":"/jobs/job01/artifacts/coverage.out"`, `"expired":true`} {
			if !bytes.Contains(resp.body, []byte(want)) {
				t.Errorf("%s lacks %s: %s", target, want, resp.body)
			}
		}
	}
	resp := r.do(t, http.MethodPost, "/jobs/job01/resubmit")
	expect(t, resp, http.StatusCreated)
	var j ci.Job
	resp.decode(t, &j)
	if j.ParentID != "job01" {
		t.Errorf("resubmit answered %s", resp.body)
	}
}

func TestArtifactStreamed(t *testing.T) {
	t.Parallel()
	store := blobfs.New(t.TempDir())
	r := newRig(t, func(d *api.Deps) { d.Artifacts = store })
	job := seedArtifacts(t, r.store, store)
	want := testArtifacts[0]

	resp := r.do(t, http.MethodGet, "/jobs/job01/artifacts/dist/app%20v1.tar.gz")
	if resp.status != http.StatusOK || string(resp.body) != want.content {
		t.Fatalf("download: %d %q", resp.status, resp.body)
	}
	sum := job.Steps[0].Artifacts[0].SHA256
	for name, value := range map[string]string{
		"Content-Type": "application/octet-stream", "Content-Length": fmt.Sprint(len(want.content)),
		"Content-Disposition": `attachment; filename="app v1.tar.gz"`, "ETag": `"` + sum + `"`,
	} {
		if got := resp.header.Get(name); got != value {
			t.Errorf("%s = %q, want %q", name, got, value)
		}
	}
	if d := resp.header.Get("Digest"); !strings.HasPrefix(d, "sha-256=") {
		t.Errorf("Digest = %q", d)
	}
	head := r.do(t, http.MethodHead, "/jobs/job01/artifacts/dist/app%20v1.tar.gz")
	if head.status != http.StatusOK || len(head.body) != 0 || head.header.Get("Content-Length") != fmt.Sprint(len(want.content)) {
		t.Errorf("HEAD: %d, %d bytes, Content-Length %q", head.status, len(head.body), head.header.Get("Content-Length"))
	}
	if strings.Contains(r.log.String(), `"error"`) {
		t.Errorf("a download logged an error: %s", r.log.String())
	}
	req, _ := http.NewRequest(http.MethodGet, "/jobs/job01/artifacts/coverage.out", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("If-None-Match", `"`+job.Steps[1].Artifacts[0].SHA256+`"`)
	if resp := r.serve(req); resp.status != http.StatusNotModified || len(resp.body) != 0 {
		t.Errorf("If-None-Match: %d %q", resp.status, resp.body)
	}
	resp = r.do(t, http.MethodGet, "/jobs/job01/artifacts/dist/app%20v1.tar.gz?presign=1")
	var link api.PresignedURL
	resp.decode(t, &link)
	if link.Presigned || link.URL != "/jobs/job01/artifacts/dist/app%20v1.tar.gz" {
		t.Errorf("?presign=1 of a store that cannot: %s", resp.body)
	}
}

func TestArtifactDownloadErrors(t *testing.T) {
	t.Parallel()
	store := blobfs.New(t.TempDir())
	r := newRig(t, func(d *api.Deps) { d.Artifacts = store })
	seedArtifacts(t, r.store, store)
	for _, tt := range []struct {
		target, want string
		status       int
	}{
		{"/jobs/job01/artifacts/nope.txt", "job job01 has no artifact nope.txt", http.StatusNotFound},
		{"/jobs/job01/artifacts/dist", "job job01 has no artifact dist", http.StatusNotFound},
		{"/jobs/nope/artifacts/coverage.out", "job nope not found", http.StatusNotFound},
		{"/jobs/job01/artifacts/old/report.txt", "artifact old/report.txt of job job01 expired at ", http.StatusGone},
		{"/jobs/job01/artifacts/lost.bin", "artifact lost.bin is no longer stored", http.StatusGone},
		{"/jobs/job01/artifacts/coverage.out?presign=maybe", "presign must be 1 or 0", http.StatusBadRequest},
		{"/jobs/job01/artifacts/x/../coverage.out", "no route", http.StatusNotFound},
	} {
		resp := r.do(t, http.MethodGet, tt.target)
		expect(t, resp, tt.status)
		if got := resp.errorText(t); !strings.HasPrefix(got, tt.want) {
			t.Errorf("%s: %q, want %q...", tt.target, got, tt.want)
		}
	}
	if resp := r.send(t, http.MethodGet, "/jobs/job01/artifacts/coverage.out", ""); resp.status != http.StatusUnauthorized {
		t.Errorf("a download without a token: %d", resp.status)
	}

	bare := newRig(t, nil) // no artifact store
	seedArtifacts(t, bare.store, store)
	expect(t, bare.do(t, http.MethodGet, "/jobs/job01/artifacts"), http.StatusOK)
	resp := bare.do(t, http.MethodGet, "/jobs/job01/artifacts/coverage.out")
	expect(t, resp, http.StatusNotImplemented)
	if !strings.Contains(resp.errorText(t), "artifacts are not configured on this deployment") {
		t.Errorf("without a store: %s", resp.body)
	}
}

// presigningStore is a fake S3 artifact store: it only hands out URLs.
type presigningStore struct{ keys []string }

func (p *presigningStore) Open(context.Context, string) (io.ReadCloser, error) {
	return nil, fmt.Errorf("a presigning store is not read through the API")
}

func (p *presigningStore) PresignGet(_ context.Context, key string, ttl time.Duration) (string, error) {
	p.keys = append(p.keys, key)
	return fmt.Sprintf("https://bucket.s3.example/%s?X-Amz-Expires=%d", key, int(ttl.Seconds())), nil
}

func TestArtifactRedirectsToPresignedURL(t *testing.T) {
	t.Parallel()
	fake := &presigningStore{}
	r := newRig(t, func(d *api.Deps) { d.Artifacts = fake })
	seedArtifacts(t, r.store, blobfs.New(t.TempDir()))
	resp := r.do(t, http.MethodGet, "/jobs/job01/artifacts/coverage.out")
	want := "https://bucket.s3.example/artifacts/acme/app/job01/1?X-Amz-Expires=300"
	expect(t, resp, http.StatusFound)
	if loc := resp.header.Get("Location"); loc != want {
		t.Errorf("Location = %q, want %q", loc, want)
	}
	resp = r.do(t, http.MethodGet, "/jobs/job01/artifacts/coverage.out?presign=1")
	var link api.PresignedURL
	resp.decode(t, &link)
	if resp.status != http.StatusOK || !link.Presigned || link.URL != want || time.Until(link.ExpiresAt) > api.PresignTTL {
		t.Errorf("?presign=1: %d %s", resp.status, resp.body)
	}
	expect(t, r.do(t, http.MethodGet, "/jobs/job01/artifacts/old/report.txt"), http.StatusGone)
	if len(fake.keys) != 2 {
		t.Errorf("presigned %v, want the one key twice", fake.keys)
	}
}

// serve answers req as it is.
func (r *rig) serve(req *http.Request) response {
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}
