package diskguard

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// write makes a file of n MiB at path, last modified age ago (and its
// directory too, when it is a workspace's).
func write(t *testing.T, path string, n int, age time.Duration) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bytes.Repeat([]byte{1}, n<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-age)
	for _, p := range []string{path, filepath.Dir(path)} {
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
	}
}

// dirCache is a cache of files in a directory: what internal/cache's
// entries on a blob fs store are to the Cache evictor.
func dirCache(dir string) Cache {
	return Cache{
		Dir: dir,
		List: func(context.Context) ([]CacheEntry, error) {
			var out []CacheEntry
			err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil || !d.Type().IsRegular() {
					return err
				}
				info, err := d.Info()
				if err != nil {
					return err
				}
				key, _ := filepath.Rel(dir, p)
				out = append(out, CacheEntry{Key: key, Bytes: info.Size(), LastUsed: info.ModTime()})
				return nil
			})
			return out, err
		},
		Delete: func(_ context.Context, key string) error {
			err := os.Remove(filepath.Join(dir, key))
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		},
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// changes records what OnChange is told.
type changes struct {
	mu   sync.Mutex
	seen []string
}

func (c *changes) add(p string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = append(c.seen, p)
}

func (c *changes) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.seen...)
}

// One pass on a full small filesystem evicts, oldest first, old workspaces
// and cache entries until it is under the low watermark, and never the
// workspace of a running job; the pressure shows in Status and OnChange
// until the disk is under the low watermark.
func TestPassEvictsOldestFirstUntilUnderLow(t *testing.T) {
	t.Parallel()
	disk := testenv.Tmpfs(t, "32m")
	jobs, cache := filepath.Join(disk, "jobs"), filepath.Join(disk, "cache")
	write(t, filepath.Join(jobs, "running1-111", "f"), 6, 4*time.Hour) // oldest, but held
	write(t, filepath.Join(jobs, "old1-222", "f"), 6, 3*time.Hour)
	write(t, filepath.Join(cache, "repo", "c-old"), 6, 150*time.Minute)
	write(t, filepath.Join(jobs, "mid1-333", "f"), 6, 2*time.Hour)
	write(t, filepath.Join(cache, "repo", "c-new"), 6, time.Minute)
	running := func(context.Context) ([]string, error) { return []string{"running1"}, nil }
	var seen changes
	g, err := New(Options{Paths: []string{jobs, cache, filepath.Join(disk, "missing")}, OnChange: seen.add,
		Evictors: []Evictor{Workspaces{Root: jobs, Running: running}, dirCache(cache)},
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		t.Fatal(err)
	}
	used, pressure := g.Status()
	if used < 85 || !strings.Contains(pressure, jobs+" ") || !strings.Contains(pressure, "above the 85% high watermark") {
		t.Fatalf("status of a full disk: %.1f%% %q", used, pressure)
	}
	if err := g.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	used, pressure = g.Status()
	if used >= 70 || pressure != "" {
		t.Errorf("after a pass: %.1f%% %q, want under 70%% and no pressure", used, pressure)
	}
	for path, want := range map[string]bool{
		filepath.Join(jobs, "running1-111"): true, filepath.Join(jobs, "old1-222"): false,
		filepath.Join(cache, "repo", "c-old"): false, filepath.Join(jobs, "mid1-333"): true,
		filepath.Join(cache, "repo", "c-new"): true,
	} {
		if exists(path) != want {
			t.Errorf("%s exists: %v, want %v", path, !want, want)
		}
	}
	// The pressure started in New, which Status says (the runner's register
	// report carries it): OnChange hears only of its end.
	if got := seen.get(); len(got) != 1 || got[0] != "" {
		t.Errorf("OnChange calls %q, want one, of the end of the pressure", got)
	}
}

// Between the watermarks the pressure holds until the disk is under the low
// one, and a guard that has nothing to evict stays under pressure.
func TestPressureHoldsUntilUnderLow(t *testing.T) {
	t.Parallel()
	disk := testenv.Tmpfs(t, "16m")
	write(t, filepath.Join(disk, "a"), 12, 0) // 75%: between the watermarks
	var seen changes
	g, err := New(Options{Paths: []string{disk}, OnChange: seen.add})
	if err != nil {
		t.Fatal(err)
	}
	if _, p := g.Status(); p != "" {
		t.Fatalf("between the watermarks, never above: pressure %q", p)
	}
	write(t, filepath.Join(disk, "b"), 3, 0) // 94%
	if err := g.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, p := g.Status(); !strings.Contains(p, "above the 85% high watermark") {
		t.Fatalf("above high with nothing to evict: pressure %q", p)
	}
	if err := os.Remove(filepath.Join(disk, "b")); err != nil {
		t.Fatal(err)
	}
	if err := g.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, p := g.Status(); !strings.Contains(p, "not yet under the 70% low watermark") {
		t.Fatalf("back between the watermarks: pressure %q", p)
	}
	if err := os.Remove(filepath.Join(disk, "a")); err != nil {
		t.Fatal(err)
	}
	if err := g.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	if used, p := g.Status(); p != "" || used > 5 {
		t.Fatalf("empty disk: %.1f%% %q", used, p)
	}
	if got := seen.get(); len(got) != 2 || !strings.Contains(got[0], "above the 85% high watermark") || got[1] != "" {
		t.Errorf("OnChange calls %q, want the start of the pressure, then its end", got)
	}
}

// A workspace whose job started after the listing is not removed, and a
// failing Running evicts no workspace.
func TestWorkspacesNeverRemovesARunningJobsDir(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write(t, filepath.Join(root, "late-1", "f"), 0, time.Hour)
	var ids []string
	w := Workspaces{Root: root, Running: func(context.Context) ([]string, error) { return ids, nil }}
	cs, err := w.Candidates(t.Context())
	if err != nil || len(cs) != 1 {
		t.Fatalf("candidates %v, %v; want the one directory", cs, err)
	}
	ids = []string{"late"}
	if err := cs[0].Remove(t.Context()); err == nil || !exists(filepath.Join(root, "late-1")) {
		t.Fatalf("removed the directory of a job that started since the listing (err %v)", err)
	}
	w.Running = func(context.Context) ([]string, error) { return nil, errors.New("runner closed") }
	if cs, err := w.Candidates(t.Context()); err == nil || len(cs) != 0 {
		t.Fatalf("candidates without the running jobs: %v, %v; want an error", cs, err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{
		{},
		{Paths: []string{"/"}, High: 60, Low: 70},
		{Paths: []string{"/"}, High: 100},
		{Paths: []string{"/"}, Low: -1},
		{Paths: []string{"/"}, Interval: -time.Second},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v): no error", o)
		}
	}
}

// Only the filesystems over the low watermark are evicted from: the
// oldest entry, on a roomy filesystem, stays. Two watched paths on one
// filesystem count once, named by the first.
func TestPassEvictsOnlyFromFullFilesystems(t *testing.T) {
	t.Parallel()
	full, roomy := testenv.Tmpfs(t, "16m"), testenv.Tmpfs(t, "16m")
	jobs := filepath.Join(full, "jobs")
	write(t, filepath.Join(roomy, "cache", "oldest"), 1, 10*time.Hour)
	write(t, filepath.Join(jobs, "left-1", "f"), 15, time.Hour)
	none := func(context.Context) ([]string, error) { return nil, nil }
	g, err := New(Options{Paths: []string{full, jobs, roomy},
		Evictors: []Evictor{dirCache(filepath.Join(roomy, "cache")), Workspaces{Root: jobs, Running: none}}})
	if err != nil {
		t.Fatal(err)
	}
	if fss := g.measure(); len(fss) != 2 || fss[0].path != full || fss[1].path != roomy {
		t.Fatalf("measured %+v, want %s and %s once each", fss, full, roomy)
	}
	if _, p := g.Status(); !strings.HasPrefix(p, full+" ") {
		t.Fatalf("pressure %q, want it to name %s", p, full)
	}
	if err := g.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(jobs, "left-1")) || !exists(filepath.Join(roomy, "cache", "oldest")) {
		t.Errorf("after a pass: workspace there %v (want gone), entry on the roomy disk there %v (want kept)",
			exists(filepath.Join(jobs, "left-1")), exists(filepath.Join(roomy, "cache", "oldest")))
	}
}
