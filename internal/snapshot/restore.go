package snapshot

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

// maxDecoderWindow bounds the memory a hostile zstd frame can make the
// decoder take.
const maxDecoderWindow = 64 << 20

// Restore unpacks the snapshot r into dir, which must exist, and returns how
// many bytes of file content it wrote. Every write goes through an os.Root
// of dir; an entry that names a path outside it, that is not a directory,
// regular file or link, or that goes past lim is an error matching
// ErrBadArchive or ErrTooLarge, and what was unpacked before stays (the
// caller removes the workspace).
func Restore(ctx context.Context, r io.Reader, dir string, lim Limits) (int64, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return 0, fmt.Errorf("restore snapshot: %w", err)
	}
	defer root.Close()
	n, err := RestoreRoot(ctx, r, root, lim)
	if err != nil {
		return n, fmt.Errorf("restore snapshot into %s: %w", dir, err)
	}
	return n, nil
}

// RestoreRoot is Restore into the directory of root, for a caller that
// reached it through an os.Root of its own (a directory inside a
// workspace that steps may be changing).
func RestoreRoot(ctx context.Context, r io.Reader, root *os.Root, lim Limits) (int64, error) {
	zr, err := zstd.NewReader(r, zstd.WithDecoderMaxWindow(maxDecoderWindow), zstd.WithDecoderConcurrency(1))
	if err != nil {
		return 0, err
	}
	defer zr.Close()
	u := unpacker{ctx: ctx, root: root, tr: tar.NewReader(zr), lim: lim}
	err = u.run()
	return u.bytes, err
}

// ErrBadArchive is the error of an archive Save would not have written.
var ErrBadArchive = errors.New("not a workspace snapshot")

// unpacker is one Restore.
type unpacker struct {
	ctx     context.Context
	root    *os.Root
	tr      *tar.Reader
	lim     Limits
	bytes   int64
	entries int
	dirs    []dirTime // set once their contents are in place
}

type dirTime struct {
	name string
	mod  time.Time
}

func (u *unpacker) run() error {
	for {
		hdr, err := u.tr.Next()
		if errors.Is(err, io.EOF) {
			return u.dirTimes()
		}
		if err != nil {
			return err
		}
		if err := u.ctx.Err(); err != nil {
			return err
		}
		if u.entries++; u.entries > u.lim.entries() {
			return tooLarge("entries", u.lim.entries())
		}
		if err := u.entry(hdr); err != nil {
			return fmt.Errorf("%s: %w", hdr.Name, err)
		}
	}
}

// entry unpacks one header (and its content).
func (u *unpacker) entry(hdr *tar.Header) error {
	name, ok := clean(hdr.Name)
	if !ok {
		return fmt.Errorf("%w: unsafe name", ErrBadArchive)
	}
	perm := fs.FileMode(hdr.Mode).Perm()
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := u.root.MkdirAll(name, 0o755); err != nil {
			return err
		}
		u.dirs = append(u.dirs, dirTime{name, hdr.ModTime})
		return u.root.Chmod(name, perm|0o700)
	case tar.TypeSymlink:
		return u.root.Symlink(hdr.Linkname, name)
	case tar.TypeReg:
		return u.file(name, hdr, perm)
	}
	return fmt.Errorf("%w: entry type %q", ErrBadArchive, hdr.Typeflag)
}

// file writes a regular file's content, no more than the header says.
func (u *unpacker) file(name string, hdr *tar.Header, perm fs.FileMode) error {
	if u.bytes += hdr.Size; u.bytes > u.lim.bytes() {
		return tooLarge("bytes", u.lim.bytes())
	}
	f, err := u.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, io.LimitReader(u.tr, hdr.Size))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return u.root.Chtimes(name, hdr.ModTime, hdr.ModTime)
}

// dirTimes sets the directories' times last: writing into a directory
// changes its own.
func (u *unpacker) dirTimes() error {
	for i := len(u.dirs) - 1; i >= 0; i-- {
		if err := u.root.Chtimes(u.dirs[i].name, u.dirs[i].mod, u.dirs[i].mod); err != nil {
			return err
		}
	}
	return nil
}

// clean returns the entry's name as a relative path, refusing absolute ones,
// ".." and empty names (os.Root would refuse an escape too; this says why).
func clean(name string) (string, bool) {
	name = strings.TrimSuffix(name, "/")
	if name == "" || path.IsAbs(name) || strings.Contains(name, "\\") {
		return "", false
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." || part == "." || part == "" {
			return "", false
		}
	}
	return name, true
}
