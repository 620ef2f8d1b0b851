package workspace

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNewDir(t *testing.T) {
	t.Parallel()
	root := filepath.Join(t.TempDir(), "jobs")
	a, err := NewDir(root, "owner/repo#1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewDir(root, "owner/repo#1")
	if err != nil {
		t.Fatal(err)
	}
	if a == b || filepath.Dir(a) != root || !strings.HasPrefix(filepath.Base(a), "owner_repo_1-") {
		t.Errorf("NewDir gave %s and %s under %s", a, b, root)
	}
	if info, err := os.Stat(a); err != nil || info.Mode().Perm() != 0o755 {
		t.Errorf("job dir: %v, %v", info.Mode(), err)
	}
	if info, err := os.Stat(root); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("root: %v, %v", info.Mode(), err)
	}
}

// readOnlyTree creates dir with a read-only file in a read-only directory.
func readOnlyTree(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "sub", "file"), "x", 0o444)
	for _, d := range []string{filepath.Join(dir, "sub"), dir} {
		if err := os.Chmod(d, 0o555); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRemoveReadOnlyTree(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "job")
	readOnlyTree(t, dir)
	if err := Remove(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dir still there: %v", err)
	}
	if err := Remove(dir); err != nil {
		t.Errorf("second Remove: %v", err)
	}
	for _, bad := range []string{"", "/", "//"} {
		if err := Remove(bad); err == nil {
			t.Errorf("Remove(%q) succeeded", bad)
		}
	}
}

// TestMakeWritable checks the chmod pass directly, since Remove's first
// attempt already succeeds when the tests run as root.
func TestMakeWritable(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "job")
	readOnlyTree(t, dir)
	makeWritable(dir)
	for _, d := range []string{dir, filepath.Join(dir, "sub")} {
		if info, err := os.Stat(d); err != nil || info.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, %v", d, info.Mode(), err)
		}
	}
}

func TestSweep(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	old, err := NewDir(root, "old")
	if err != nil {
		t.Fatal(err)
	}
	readOnlyTree(t, filepath.Join(old, "tree"))
	long := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, long, long); err != nil {
		t.Fatal(err)
	}
	fresh, err := NewDir(root, "fresh")
	if err != nil {
		t.Fatal(err)
	}
	n, err := Sweep(root, time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1, nil", n, err)
	}
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old job dir survived: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh job dir removed: %v", err)
	}
	if n, err := Sweep(filepath.Join(root, "missing"), time.Hour); n != 0 || err != nil {
		t.Errorf("Sweep of a missing root = %d, %v", n, err)
	}
}
