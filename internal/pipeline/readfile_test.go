//go:build unix

package pipeline

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReadFileRefusesWhatIsNotASmallRegularFile checks each kind of file
// ParseFile (narwhal exec, narwhal validate) and the runner may meet.
func TestReadFileRefusesWhatIsNotASmallRegularFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok.yml")
	write(t, ok, "image: x\nsteps: [{name: a, commands: [x]}]\n")
	write(t, filepath.Join(dir, "big.yml"), strings.Repeat("#", 2<<20))
	write(t, filepath.Join(dir, "limit.yml"), strings.Repeat("#", MaxSize))
	must(t, os.Symlink("/dev/zero", filepath.Join(dir, "zero.yml")))
	must(t, os.Symlink(ok, filepath.Join(dir, "link.yml")))
	must(t, os.Mkdir(filepath.Join(dir, "dir.yml"), 0o755))
	must(t, syscall.Mkfifo(filepath.Join(dir, "fifo.yml"), 0o644))
	for name, want := range map[string]error{
		"zero.yml": ErrSymlink, "link.yml": ErrSymlink, "dir.yml": ErrNotRegular, "fifo.yml": ErrNotRegular,
		"big.yml": ErrTooLarge, "missing.yml": fs.ErrNotExist, "ok.yml": nil, "limit.yml": nil,
	} {
		_, err := ReadFile(filepath.Join(dir, name), "narwhal.yml")
		if !errors.Is(err, want) {
			t.Errorf("%s: got %v, want %v", name, err, want)
		}
	}
	_, err := ParseFile(filepath.Join(dir, "zero.yml"))
	if want := filepath.Join(dir, "zero.yml") + " is a symbolic link; it must be a regular file"; err == nil || err.Error() != want {
		t.Errorf("ParseFile: got %v, want %q", err, want)
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	must(t, os.WriteFile(path, []byte(s), 0o644))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
