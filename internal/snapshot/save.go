package snapshot

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"
)

// Save writes the snapshot of dir to w and returns how many bytes of file
// content it holds. It fails with an error matching ErrTooLarge past lim,
// and stops when ctx ends; w then holds a partial archive the caller drops.
func Save(ctx context.Context, dir string, w io.Writer, lim Limits) (int64, error) {
	zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		return 0, fmt.Errorf("snapshot %s: %w", dir, err)
	}
	s := saver{ctx: ctx, dir: dir, tw: tar.NewWriter(zw), lim: lim}
	err = filepath.WalkDir(dir, s.add)
	if err == nil {
		err = s.tw.Close()
	}
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return s.bytes, fmt.Errorf("snapshot %s: %w", dir, err)
	}
	return s.bytes, nil
}

// saver is one Save's walk.
type saver struct {
	ctx     context.Context
	dir     string
	tw      *tar.Writer
	lim     Limits
	bytes   int64
	entries int
}

// add writes the entry at path (WalkDir does not follow links).
func (s *saver) add(path string, d fs.DirEntry, err error) error {
	if err != nil {
		return err
	}
	if err := s.ctx.Err(); err != nil {
		return err
	}
	rel, err := filepath.Rel(s.dir, path)
	if err != nil || rel == "." {
		return err
	}
	info, err := d.Info()
	if err != nil {
		return err
	}
	if s.entries++; s.entries > s.lim.entries() {
		return tooLarge("entries", s.lim.entries())
	}
	return s.write(path, filepath.ToSlash(rel), info)
}

// write adds one directory, regular file or link; other types are left out.
func (s *saver) write(path, name string, info fs.FileInfo) error {
	hdr := &tar.Header{Name: name, Mode: int64(info.Mode().Perm()), ModTime: info.ModTime(), Format: tar.FormatPAX}
	switch {
	case info.IsDir():
		hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
	case info.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(path)
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case info.Mode().IsRegular():
		if s.bytes += info.Size(); s.bytes > s.lim.bytes() {
			return tooLarge("bytes", s.lim.bytes())
		}
		hdr.Typeflag, hdr.Size = tar.TypeReg, info.Size()
	default:
		return nil
	}
	if err := s.tw.WriteHeader(hdr); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil
	}
	return copyFile(s.tw, path, hdr.Size)
}

// copyFile writes size bytes of the file at path: a file that changed size
// since it was listed (a step still writing) is an error, not a torn entry.
func copyFile(w io.Writer, path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDONLY|o_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(w, io.LimitReader(f, size))
	if err == nil && n != size {
		err = fmt.Errorf("%s changed while it was saved", path)
	}
	return err
}
