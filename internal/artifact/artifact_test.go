package artifact

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/blob"
	"github.com/narwhal-ci/narwhal/internal/blob/blobtest"
	blobfs "github.com/narwhal-ci/narwhal/internal/blob/fs"
	blobs3 "github.com/narwhal-ci/narwhal/internal/blob/s3"
	"github.com/narwhal-ci/narwhal/internal/testenv/s3bucket"
)

// TestCollect: the globs' regular files, a directory's files, each once;
// links (out of the workspace or inside it) are left out with a note, as is
// a glob that matches nothing.
func TestCollect(t *testing.T) {
	ws := workspace(t, map[string]string{"dist/a.txt": "a", "dist/b.txt": "bb", "dist/app.bin": "bin", "dist/sub/c.txt": "ccc",
		"coverage.out": "cov", "main.go": "package main"})
	os.Symlink("/etc", filepath.Join(ws, "dist/etc"))
	os.Symlink("a.txt", filepath.Join(ws, "dist/link.txt"))
	os.Symlink("../dist", filepath.Join(ws, "out"))
	c, err := Collect(t.Context(), ws, []string{"dist/*.txt", "coverage.out", "none/*.zip", "dist/etc/*", "dist/sub", "dist/**/*.txt", "out/*"}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := []File{{"dist/a.txt", 1}, {"dist/b.txt", 2}, {"coverage.out", 3}, {"dist/sub/c.txt", 3}}
	if !slices.Equal(c.Files, want) {
		t.Errorf("files %v, want %v", c.Files, want)
	}
	notes := strings.Join(c.Notes, "\n")
	for _, s := range []string{"none/*.zip matched no file", "dist/etc/* matched no file", "symbolic link(s)", "dist/link.txt", "out"} {
		if !strings.Contains(notes, s) {
			t.Errorf("notes %q lack %q", notes, s)
		}
	}
	if strings.Contains(notes, "dist/a.txt") {
		t.Errorf("notes %q name a file that was collected", notes)
	}
}

// TestCollectBounds: past the limits, and for globs outside the workspace,
// Collect fails saying why.
func TestCollectBounds(t *testing.T) {
	ws := workspace(t, map[string]string{"dist/a": "0123456789", "dist/b": "0123456789"})
	for _, lim := range []Limits{{Files: 1}, {Bytes: 15}} {
		if _, err := Collect(t.Context(), ws, []string{"dist/*"}, lim); !errors.Is(err, ErrTooLarge) {
			t.Errorf("Collect with %+v: %v, want ErrTooLarge", lim, err)
		}
	}
	for _, g := range []string{"", "/etc/*", "../x", "dist/../../x", "a\\b", "dist/[a"} {
		if _, err := Collect(t.Context(), ws, []string{g}, Limits{}); err == nil || !strings.Contains(err.Error(), "workspace-relative glob") {
			t.Errorf("Collect(%q): %v", g, err)
		}
	}
}

// The upload and sweep run against both blob backends.
func TestFS(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T) blob.Store { return blobfs.New(t.TempDir()) })
}

func TestS3(t *testing.T) {
	client := s3bucket.Client(t)
	stores(t, func(t *testing.T) blob.Store {
		return blobs3.New(client, s3bucket.New(t, client, "artifacts"), "narwhal")
	})
}

func stores(t *testing.T, open func(t *testing.T) blob.Store) {
	t.Run("Upload", func(t *testing.T) { testUpload(t, open(t)) })
	t.Run("SweepExpired", func(t *testing.T) { testSweep(t, open(t)) })
}

// testUpload: each file is stored under its numbered key of its expiry day,
// with its size and sha256; a file that grew since Collect is cut.
func testUpload(t *testing.T, s blob.Store) {
	big := strings.Repeat("narwhal ", 1<<16) // 512 KiB
	ws := workspace(t, map[string]string{"dist/app.tar.gz": big, "coverage.out": "mode: set\n"})
	c, err := Collect(t.Context(), ws, []string{"dist/*.tar.gz", "coverage.out"}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(ws, "coverage.out"), []byte("mode: set\nmore\n"), 0o644)
	expires := time.Date(2026, 12, 9, 3, 4, 5, 0, time.UTC)
	got, err := Upload(t.Context(), s, ws, c.Files, Target{JobID: "job1", Attempt: 2, Step: "build", First: 3, Expires: expires})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ name, data, key string }{
		{"dist/app.tar.gz", big, "artifacts/20261209/job1/2/3"},
		{"coverage.out", "mode: set\n", "artifacts/20261209/job1/2/4"},
	}
	if len(got) != len(want) {
		t.Fatalf("uploaded %+v", got)
	}
	for i, w := range want {
		sum := sha256.Sum256([]byte(w.data))
		a := got[i]
		if a.Name != w.name || a.Step != "build" || a.Size != int64(len(w.data)) || a.SHA256 != hex.EncodeToString(sum[:]) ||
			a.Key != w.key || !a.ExpiresAt.Equal(expires) {
			t.Errorf("artifact %d = %+v, want %s of %d bytes under %s", i, a, w.name, len(w.data), w.key)
		}
		if data := blobtest.Read(t, s, w.key); data != w.data {
			t.Errorf("%s stored %d bytes, want %d", w.key, len(data), len(w.data))
		}
	}
}

// testSweep: artifacts whose expiry day has ended go; those expiring today
// or later stay, as does anything else.
func testSweep(t *testing.T, s blob.Store) {
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	for _, k := range []string{"artifacts/20261130/j/1/0", "artifacts/20261201/j/1/0", "artifacts/20261201/k/1/7",
		"artifacts/20261202/j/1/0", "artifacts/20270101/j/1/0", "artifacts/notaday/j", "snapshots/20261101/x"} {
		blobtest.Put(t, s, k, "x")
	}
	n, err := SweepExpired(t.Context(), s, now)
	if err != nil || n != 3 {
		t.Fatalf("SweepExpired = %d, %v; want 3", n, err)
	}
	objs, err := s.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, o := range objs {
		left = append(left, o.Key)
	}
	if want := []string{"artifacts/20261202/j/1/0", "artifacts/20270101/j/1/0", "artifacts/notaday/j", "snapshots/20261101/x"}; !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
}

func workspace(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
