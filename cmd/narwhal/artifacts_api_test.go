package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/api"
	"github.com/narwhal-ci/narwhal/internal/ci"
)

// file is an artifact of a test job: its name, step and content, how long
// until it expires (negative: expired), and the content its blob holds when
// that differs (a corrupted store). A zero expires means in a day.
type file struct {
	name, step, content string
	expires             time.Duration
	stored              string
}

// artifactJob creates job n whose steps build and test left files, stored in
// the rig's artifact store.
func (r *apiRig) artifactJob(t *testing.T, n int, files ...file) ci.Job {
	t.Helper()
	steps := []ci.Step{{Name: "build", Status: ci.StepSuccess}, {Name: "test", Status: ci.StepSuccess}}
	for i, f := range files {
		sum := sha256.Sum256([]byte(f.content))
		key := fmt.Sprintf("artifacts/job%02d/%d", n, i)
		s := &steps[0]
		if f.step == "test" {
			s = &steps[1]
		}
		s.Artifacts = append(s.Artifacts, ci.Artifact{Name: f.name, Step: s.Name, Size: int64(len(f.content)),
			SHA256: hex.EncodeToString(sum[:]), Key: key, ExpiresAt: time.Now().Add(f.expires)})
		if f.expires == 0 {
			s.Artifacts[len(s.Artifacts)-1].ExpiresAt = time.Now().Add(24 * time.Hour)
		}
		stored := f.content
		if f.stored != "" {
			stored = f.stored
		}
		if err := r.blobs.Put(context.Background(), key, strings.NewReader(stored)); err != nil {
			t.Fatal(err)
		}
	}
	return r.job(t, n, func(j *ci.Job) { j.Status, j.Steps = ci.StatusSuccess, steps })
}

var tarball = file{name: "dist/app.tar.gz", step: "build", content: strings.Repeat("tarball bytes ", 1000), expires: 7 * 24 * time.Hour}

func TestArtifactsTable(t *testing.T) {
	t.Parallel()
	r := newAPIRig(t)
	r.artifactJob(t, 1, tarball, file{name: "coverage.out", step: "test", content: "mode: set\n", expires: -2 * time.Hour})
	out, stderr, err := r.cli(t, runArtifacts, "job01")
	if err != nil || stderr != "" {
		t.Fatalf("artifacts: %v, %q", err, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "NAME STEP SIZE SHA256 EXPIRES" {
		t.Fatalf("table:\n%s", out)
	}
	if f := strings.Fields(lines[1]); strings.Join(f, " ") != "dist/app.tar.gz build 14.0 kB "+f[4]+" in 6d" || len(f[4]) != 16 {
		t.Errorf("row %q", lines[1])
	}
	if !strings.HasSuffix(lines[2], "expired 2h ago") {
		t.Errorf("row %q: want expired 2h ago", lines[2])
	}
	out, _, err = r.cli(t, runArtifacts, "--json", "acme/app#1")
	var list api.ArtifactList
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list.Artifacts) != 2 || list.Artifacts[0].URL == "" ||
		strings.Contains(out, "artifacts/job01") {
		t.Errorf("artifacts --json acme/app#1: %v\n%s", err, out)
	}
	r.job(t, 2, nil)
	if out, _, err := r.cli(t, runArtifacts, "job02"); err != nil || out != "no artifacts\n" {
		t.Errorf("a job without artifacts: %v, %q", err, out)
	}
	if _, stderr, err := r.cli(t, runArtifacts, "job01", "--name", "x"); err != exitError(2) || !strings.Contains(stderr, "--name needs --download") {
		t.Errorf("--name without --download: %v, %q", err, stderr)
	}
}

func TestArtifactsDownload(t *testing.T) {
	t.Parallel()
	r := newAPIRig(t)
	cov := file{name: "coverage.out", step: "test", content: "mode: set\n", expires: time.Hour}
	old := file{name: "old.txt", step: "test", content: "gone", expires: -time.Hour}
	r.artifactJob(t, 1, tarball, cov, old)
	dir := filepath.Join(t.TempDir(), "out")
	out, stderr, err := r.cli(t, runArtifacts, "job01", "--download", dir)
	if err != nil {
		t.Fatalf("download: %v\n%s%s", err, out, stderr)
	}
	wantFile(t, filepath.Join(dir, "dist", "app.tar.gz"), tarball.content)
	wantFile(t, filepath.Join(dir, "coverage.out"), cov.content)
	if _, err := os.Stat(filepath.Join(dir, "old.txt")); !os.IsNotExist(err) {
		t.Errorf("the expired artifact was written: %v", err)
	}
	if !strings.Contains(out, filepath.Join(dir, "dist", "app.tar.gz")+"  14.0 kB  sha256 ") || !strings.Contains(stderr, "old.txt expired") {
		t.Errorf("output:\n%s\nstderr:\n%s", out, stderr)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, "*", ".narwhal-download-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	one := t.TempDir()
	if out, _, err := r.cli(t, runArtifacts, "job01", "--download", one, "--name", "coverage.out"); err != nil || strings.Count(out, "\n") != 1 {
		t.Errorf("--name coverage.out: %v\n%s", err, out)
	}
	wantFile(t, filepath.Join(one, "coverage.out"), cov.content)
	if entries, _ := os.ReadDir(one); len(entries) != 1 {
		t.Errorf("--name wrote %d entries", len(entries))
	}
	if _, _, err := r.cli(t, runArtifacts, "job01", "--download", one, "--name", "nope"); err == nil || err.Error() != "404 job job01 has no artifact nope" {
		t.Errorf("--name nope: %v", err)
	}
	if _, stderr, err := r.cli(t, runArtifacts, "job01", "--download", one, "--name", "old.txt"); err != exitError(1) || !strings.Contains(stderr, "expired") {
		t.Errorf("--name of an expired artifact: %v, %q", err, stderr)
	}
}

// TestArtifactsDownloadStaysInsideDir: names from a hostile record and a
// symbolic link in the directory cannot put a file outside it.
func TestArtifactsDownloadStaysInsideDir(t *testing.T) {
	t.Parallel()
	r := newAPIRig(t)
	r.artifactJob(t, 1, file{name: "../escape.txt", content: "out"}, file{name: "/etc/escape.txt", content: "abs"},
		file{name: "a/./b.txt", content: "unclean"}, file{name: "link/through.txt", content: "via link"},
		file{name: "fine.txt", content: "ok"})
	parent := t.TempDir()
	dir, outside := filepath.Join(parent, "dl"), filepath.Join(parent, "outside")
	for _, d := range []string{dir, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := r.cli(t, runArtifacts, "job01", "--download", dir)
	if err != exitError(1) {
		t.Fatalf("download: %v, want exit status 1\n%s", err, stderr)
	}
	for _, name := range []string{"../escape.txt", "/etc/escape.txt", "a/./b.txt"} {
		if !strings.Contains(stderr, name+": refused: the name would land outside the download directory") {
			t.Errorf("%s not refused:\n%s", name, stderr)
		}
	}
	if !strings.Contains(stderr, "link/through.txt: write into the download directory: ") || !strings.Contains(stderr, "escapes") {
		t.Errorf("the link was followed?\n%s", stderr)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("files outside the download directory: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(parent, "escape.txt")); !os.IsNotExist(err) {
		t.Errorf("../escape.txt was written: %v", err)
	}
	wantFile(t, filepath.Join(dir, "fine.txt"), "ok")
}

func TestArtifactsDownloadChecksTheDigest(t *testing.T) {
	t.Parallel()
	r := newAPIRig(t)
	r.artifactJob(t, 1, file{name: "app.bin", content: "the real bytes", stored: "the fake bytes"},
		file{name: "short.bin", content: "the real bytes", stored: "short"})
	dir := t.TempDir()
	_, stderr, err := r.cli(t, runArtifacts, "job01", "--download", dir)
	if err != exitError(1) || !strings.Contains(stderr, "app.bin: download artifact app.bin: artifact does not match its record: sha256 ") {
		t.Errorf("a corrupted artifact: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "short.bin: ") {
		t.Errorf("a short artifact:\n%s", stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("kept %v", entries)
	}
}

// bucket is a fake S3 artifact store: it presigns URLs of an HTTP server
// that serves the artifact store's objects to requests that carry the
// signature and no bearer token.
type bucket struct {
	srv   *httptest.Server
	blobs api.ArtifactReader
}

func newBucket(t *testing.T, blobs api.ArtifactReader) *bucket {
	b := &bucket{blobs: blobs}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" || r.URL.Query().Get("X-Amz-Signature") != "sig" {
			http.Error(w, "<Error><Code>AccessDenied</Code></Error>", http.StatusForbidden)
			return
		}
		rc, err := b.blobs.Open(r.Context(), strings.TrimPrefix(r.URL.Path, "/"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		defer rc.Close()
		io.Copy(w, rc)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *bucket) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	return b.blobs.Open(ctx, key)
}

func (b *bucket) PresignGet(_ context.Context, key string, ttl time.Duration) (string, error) {
	return fmt.Sprintf("%s/%s?X-Amz-Expires=%d&X-Amz-Signature=sig", b.srv.URL, key, int(ttl.Seconds())), nil
}

func TestArtifactsDownloadFollowsThePresignedURL(t *testing.T) {
	t.Parallel()
	var b *bucket
	r := newAPIRigWith(t, func(d *api.Deps) {
		b = newBucket(t, d.Artifacts)
		d.Artifacts = b
	})
	r.artifactJob(t, 1, tarball)
	dir := t.TempDir()
	if out, stderr, err := r.cli(t, runArtifacts, "job01", "--download", dir); err != nil {
		t.Fatalf("download through the bucket: %v\n%s%s", err, out, stderr)
	}
	wantFile(t, filepath.Join(dir, "dist", "app.tar.gz"), tarball.content)
}

func TestJobShowsCachesAndArtifacts(t *testing.T) {
	t.Parallel()
	r := newAPIRig(t)
	r.artifactJob(t, 1, tarball)
	_, err := ci.Update(context.Background(), r.store, "job01", func(j *ci.Job) error {
		j.Steps[0].Caches = []ci.CacheUse{{Key: "go-3f2a", Hit: true, Restored: "go-3f2a", RestoredBytes: 812e6}}
		j.Steps[1].Caches = []ci.CacheUse{{Key: "lint-9", Saved: true, SavedBytes: 812e6}}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := r.cli(t, runJob, "job01")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"STEP   CACHE AND ARTIFACTS\n", "build  cache hit go-3f2a (812 MB)\n",
		"build  artifact dist/app.tar.gz (14.0 kB, expires in 6d)\n", "test   cache miss lint-9, saved 812 MB\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("job output lacks %q:\n%s", want, out)
		}
	}
	out, _, err = r.cli(t, runJob, "--json", "job01")
	var v api.JobView
	if err != nil || json.Unmarshal([]byte(out), &v) != nil || len(v.Steps) != 2 || v.Steps[0].Artifacts[0].URL == "" ||
		strings.Contains(out, `"key": ""`) || strings.Contains(out, "artifacts/job01") {
		t.Errorf("job --json: %v\n%s", err, out)
	}
}

func TestRunnersDiskColumn(t *testing.T) {
	t.Parallel()
	r := newAPIRig(t)
	for _, rn := range []ci.Runner{
		{ID: "r1", Capacity: 2, State: ci.RunnerActive, DiskUsedPercent: 41.6, FreeDiskBytes: 120e9},
		{ID: "r2", Capacity: 2, State: ci.RunnerActive, DiskUsedPercent: 91, FreeDiskBytes: 4e9,
			DiskPressure: "/var/lib/docker 91% full, above the 85% high watermark; evicting"},
	} {
		if err := r.store.PutRunner(context.Background(), rn); err != nil {
			t.Fatal(err)
		}
	}
	out, _, err := r.cli(t, runRunners)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "JOBS  DISK") {
		t.Fatalf("runners:\n%s", out)
	}
	for i, want := range []string{"r1  active  0/2   42% (120 GB free)           ", "r2  active  0/2   91% (4.0 GB free) pressure  ",
		"r2: disk pressure, takes no jobs: /var/lib/docker 91% full, above the 85% high watermark; evicting"} {
		if !strings.HasPrefix(lines[i+1], want) {
			t.Errorf("line %d %q, want %q...", i+1, lines[i+1], want)
		}
	}
}

// wantFile checks that path holds content.
func wantFile(t *testing.T, path, content string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || string(got) != content {
		t.Errorf("%s: %v, %d bytes, want %d", path, err, len(got), len(content))
	}
}
