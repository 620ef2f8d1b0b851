package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// TestRoundTrip: files, directories and links come back with their bytes,
// permissions and times; a link out of the workspace is kept as a link and
// what it points at is not saved.
func TestRoundTrip(t *testing.T) {
	src := t.TempDir()
	write(t, src, "go.mod", "module x\n", 0o644)
	write(t, src, "bin/tool", "#!/bin/sh\necho hi\n", 0o755)
	write(t, src, "out/deep/greeting.txt", "hello from narwhal\n", 0o600)
	old := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	os.Chtimes(filepath.Join(src, "go.mod"), old, old)
	os.Symlink("go.mod", filepath.Join(src, "link"))
	os.Symlink("/etc", filepath.Join(src, "etc"))
	var buf bytes.Buffer
	n, err := Save(context.Background(), src, &buf, Limits{})
	if err != nil || n != int64(len("module x\n#!/bin/sh\necho hi\nhello from narwhal\n")) {
		t.Fatalf("Save = %d, %v", n, err)
	}
	dst := t.TempDir()
	if _, err := Restore(context.Background(), &buf, dst, Limits{}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]struct {
		data string
		mode os.FileMode
	}{"go.mod": {"module x\n", 0o644}, "bin/tool": {"#!/bin/sh\necho hi\n", 0o755}, "out/deep/greeting.txt": {"hello from narwhal\n", 0o600}} {
		path := filepath.Join(dst, name)
		data, err := os.ReadFile(path)
		info, _ := os.Stat(path)
		if err != nil || string(data) != want.data || info.Mode().Perm() != want.mode {
			t.Errorf("%s: %q %v, %v; want %q %v", name, data, info.Mode(), err, want.data, want.mode)
		}
	}
	if info, _ := os.Stat(filepath.Join(dst, "go.mod")); !info.ModTime().Equal(old) {
		t.Errorf("go.mod's time is %v, want %v", info.ModTime(), old)
	}
	for link, want := range map[string]string{"link": "go.mod", "etc": "/etc"} {
		if got, err := os.Readlink(filepath.Join(dst, link)); err != nil || got != want {
			t.Errorf("link %s -> %q, %v; want %q", link, got, err, want)
		}
	}
}

// TestLimits: a workspace past its limits is not saved, an archive past them
// is not restored.
func TestLimits(t *testing.T) {
	src := t.TempDir()
	write(t, src, "a", "0123456789", 0o644)
	write(t, src, "b", "0123456789", 0o644)
	for _, lim := range []Limits{{Bytes: 15}, {Entries: 1}} {
		if _, err := Save(context.Background(), src, &bytes.Buffer{}, lim); !errors.Is(err, ErrTooLarge) {
			t.Errorf("Save with %+v: %v, want ErrTooLarge", lim, err)
		}
		var buf bytes.Buffer
		if _, err := Save(context.Background(), src, &buf, Limits{}); err != nil {
			t.Fatal(err)
		}
		if _, err := Restore(context.Background(), &buf, t.TempDir(), lim); !errors.Is(err, ErrTooLarge) {
			t.Errorf("Restore with %+v: %v, want ErrTooLarge", lim, err)
		}
	}
}

// TestRestoreRefusesEscapes: an archive that names a path outside the
// target, or writes through a link it restored, writes nothing outside it.
func TestRestoreRefusesEscapes(t *testing.T) {
	outside := t.TempDir()
	for name, entries := range map[string][]tar.Header{
		"dot-dot":      {{Name: "../escaped", Typeflag: tar.TypeReg, Size: 1}},
		"absolute":     {{Name: filepath.Join(outside, "escaped"), Typeflag: tar.TypeReg, Size: 1}},
		"through-link": {{Name: "out", Typeflag: tar.TypeSymlink, Linkname: outside}, {Name: "out/escaped", Typeflag: tar.TypeReg, Size: 1}},
		"device":       {{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}},
	} {
		dst := filepath.Join(t.TempDir(), "ws")
		os.Mkdir(dst, 0o755)
		if _, err := Restore(context.Background(), archive(t, entries), dst, Limits{}); err == nil {
			t.Errorf("%s: restored", name)
		}
		for _, p := range []string{filepath.Join(outside, "escaped"), filepath.Join(filepath.Dir(dst), "escaped")} {
			if _, err := os.Lstat(p); err == nil {
				t.Fatalf("%s: %s was written", name, p)
			}
		}
	}
}

// archive builds a zstd-compressed tar of entries, each regular file holding
// "x" bytes.
func archive(t *testing.T, entries []tar.Header) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := zstd.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, h := range entries {
		h.Mode = 0o644
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
	}
	tw.Close()
	zw.Close()
	return &buf
}

func write(t *testing.T, dir, name, data string, mode os.FileMode) {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, mode)
}
