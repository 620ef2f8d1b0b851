package workspace

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// sourceTree builds a tree with a plain file, an executable, a read-only
// directory, a relative symlink, a symlink out of the tree and a dangling one.
func sourceTree(t *testing.T) string {
	t.Helper()
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "plain.txt"), "hello", 0o644)
	writeFile(t, filepath.Join(src, "run.sh"), "#!/bin/sh\necho hi\n", 0o755)
	ro := filepath.Join(src, "ro")
	if err := os.Mkdir(ro, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(ro, "inner"), "inner", 0o444)
	for link, target := range map[string]string{
		"link.txt": "plain.txt", "outside": "/etc/hostname", "dangling": "nowhere",
	} {
		if err := os.Symlink(target, filepath.Join(src, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(ro, 0o755) })
	return src
}

func TestCopy(t *testing.T) {
	t.Parallel()
	src := sourceTree(t)
	dst := filepath.Join(t.TempDir(), "copy")
	if err := Copy(context.Background(), src, dst); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Remove(dst) })
	if got := readFile(t, filepath.Join(dst, "ro", "inner")); got != "inner" {
		t.Errorf("ro/inner = %q", got)
	}
	modes := map[string]os.FileMode{"plain.txt": 0o644, "run.sh": 0o755, "ro": 0o555 | os.ModeDir, "ro/inner": 0o444}
	for name, want := range modes {
		info, err := os.Lstat(filepath.Join(dst, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode(); got != want {
			t.Errorf("%s: mode %v, want %v", name, got, want)
		}
	}
	links := map[string]string{"link.txt": "plain.txt", "outside": "/etc/hostname", "dangling": "nowhere"}
	for name, want := range links {
		got, err := os.Readlink(filepath.Join(dst, name))
		if err != nil || got != want {
			t.Errorf("%s: link to %q (%v), want %q", name, got, err, want)
		}
	}
}

func TestCopyIntoItself(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "a"), "a", 0o644)
	dst := filepath.Join(src, ".narwhal", "ws")
	if err := Copy(context.Background(), src, dst); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dst, "a")); got != "a" {
		t.Errorf("a = %q", got)
	}
	if _, err := os.Stat(filepath.Join(dst, ".narwhal", "ws")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("destination copied into itself: %v", err)
	}
}

func TestCopyCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Copy(ctx, sourceTree(t), t.TempDir())
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}
