package snapshot

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestSavePaths: only the paths named (and the directories leading to
// them) are saved, a path inside another once, a missing one is reported;
// a link inside a saved directory stays a link.
func TestSavePaths(t *testing.T) {
	src := t.TempDir()
	write(t, src, ".cache/go-build/ab/cd", "object", 0o644)
	write(t, src, ".cache/gomod/m@v1/go.mod", "module m\n", 0o444)
	write(t, src, "vendor/x.go", "package x\n", 0o644)
	write(t, src, "main.go", "package main\n", 0o644)
	os.Symlink("/etc", filepath.Join(src, ".cache/go-build/etc"))
	var buf bytes.Buffer
	n, missing, err := SavePaths(context.Background(), src,
		[]string{".cache/go-build", ".cache/gomod/", ".cache/go-build/ab", "vendor/x.go", "node_modules", "main.go/x"}, &buf, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(len("object") + len("module m\n") + len("package x\n")); n != want {
		t.Errorf("saved %d bytes of content, want %d", n, want)
	}
	if !slices.Equal(missing, []string{"main.go/x", "node_modules"}) {
		t.Errorf("missing = %v", missing)
	}
	dst := t.TempDir()
	if _, err := Restore(context.Background(), &buf, dst, Limits{}); err != nil {
		t.Fatal(err)
	}
	if got, want := tree(t, dst), []string{".cache/", ".cache/go-build/", ".cache/go-build/ab/", ".cache/go-build/ab/cd",
		".cache/go-build/etc", ".cache/gomod/", ".cache/gomod/m@v1/", ".cache/gomod/m@v1/go.mod", "vendor/", "vendor/x.go"}; !slices.Equal(got, want) {
		t.Errorf("restored %v\nwant     %v", got, want)
	}
	if target, err := os.Readlink(filepath.Join(dst, ".cache/go-build/etc")); err != nil || target != "/etc" {
		t.Errorf("link restored as %q, %v", target, err)
	}
}

// TestSavePathsRefusesLinksAndEscapes: a path through a link (to outside
// or inside the directory), or outside it, is refused and nothing of what
// the link points at is read.
func TestSavePathsRefusesLinksAndEscapes(t *testing.T) {
	src := t.TempDir()
	outside := t.TempDir()
	write(t, outside, "secret", "s3cr3t", 0o644)
	write(t, src, "real/file", "x", 0o644)
	os.Symlink(outside, filepath.Join(src, "out"))
	os.Mkdir(filepath.Join(src, "dist"), 0o755)
	os.Symlink("../real", filepath.Join(src, "dist/in"))
	for _, p := range []string{"out", "out/secret", "dist/in", "dist/in/file", "../x", "/etc", "", ".", "a/../../b", "a\\b"} {
		var buf bytes.Buffer
		_, _, err := SavePaths(context.Background(), src, []string{"real", p}, &buf, Limits{})
		if !errors.Is(err, ErrUnsafePath) {
			t.Errorf("SavePaths(%q): %v, want ErrUnsafePath", p, err)
		}
		if bytes.Contains(buf.Bytes(), []byte("s3cr3t")) {
			t.Errorf("SavePaths(%q) wrote the secret", p)
		}
	}
}

// TestSavePathsLimits: the limits count the parents too.
func TestSavePathsLimits(t *testing.T) {
	src := t.TempDir()
	write(t, src, "a/b/c", "0123456789", 0o644)
	if _, _, err := SavePaths(context.Background(), src, []string{"a/b/c"}, &bytes.Buffer{}, Limits{Entries: 2}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("3 entries under a limit of 2: %v", err)
	}
	if _, _, err := SavePaths(context.Background(), src, []string{"a/b/c"}, &bytes.Buffer{}, Limits{Bytes: 9}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("10 bytes under a limit of 9: %v", err)
	}
}

// tree lists everything under dir, directories with a trailing "/".
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			rel += "/"
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
