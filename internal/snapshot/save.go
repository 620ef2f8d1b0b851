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
	"path/filepath"
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// Save writes the snapshot of dir to w and returns how many bytes of file
// content it holds. It fails with an error matching ErrTooLarge past lim,
// and stops when ctx ends; w then holds a partial archive the caller drops.
func Save(ctx context.Context, dir string, w io.Writer, lim Limits) (int64, error) {
	n, err := save(ctx, dir, w, lim, func(s *saver) error { return s.walk(".") })
	if err != nil {
		return n, fmt.Errorf("snapshot %s: %w", dir, err)
	}
	return n, nil
}

// ErrUnsafePath is the error of a SavePaths path that is not a plain
// workspace-relative path, or that goes through a symbolic link.
var ErrUnsafePath = errors.New("unsafe path")

// SavePaths writes a snapshot of the given paths of dir (each a
// "/"-separated path relative to dir, a directory saved with everything in
// it) to w, in the format of Save, with the directories that lead to them:
// Restore into an empty directory gives those paths back. It returns how
// many bytes of file content the archive holds and the paths that did not
// exist, which are left out. A path that is absolute, holds "..", names dir
// itself or has a symbolic link as any of its components is an error
// matching ErrUnsafePath, before anything is written; a path inside
// another is saved once, with it. Links inside a saved directory are saved
// as links, as by Save. Errors are Save's otherwise.
func SavePaths(ctx context.Context, dir string, paths []string, w io.Writer, lim Limits) (int64, []string, error) {
	clean, err := cleanPaths(paths)
	if err != nil {
		return 0, nil, fmt.Errorf("snapshot %s: %w", dir, err)
	}
	var missing []string
	n, err := save(ctx, dir, w, lim, func(s *saver) error {
		for _, p := range clean {
			ok, err := s.checkComponents(p)
			if err != nil {
				return err
			}
			if !ok {
				missing = append(missing, p)
				continue
			}
			if err := s.walk(p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return n, nil, fmt.Errorf("snapshot %s of %s: %w", strings.Join(clean, ", "), dir, err)
	}
	return n, missing, nil
}

// cleanPaths checks paths and returns them cleaned and sorted, without the
// ones inside another.
func cleanPaths(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		c := path.Clean(p)
		if p == "" || c == "." || !filepath.IsLocal(c) || strings.ContainsAny(p, "\\\x00") {
			return nil, fmt.Errorf("%w %q: want a path inside the workspace", ErrUnsafePath, p)
		}
		out = append(out, c)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	return slices.DeleteFunc(out, func(p string) bool {
		return slices.ContainsFunc(out, func(q string) bool { return strings.HasPrefix(p, q+"/") })
	}), nil
}

// save runs walk on a saver of dir that writes to w.
func save(ctx context.Context, dir string, w io.Writer, lim Limits, walk func(*saver) error) (int64, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return 0, err
	}
	defer root.Close()
	zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		return 0, err
	}
	s := saver{ctx: ctx, root: root, tw: tar.NewWriter(zw), lim: lim, dirs: map[string]bool{}}
	err = walk(&s)
	if err == nil {
		err = s.tw.Close()
	}
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	return s.bytes, err
}

// saver is one Save's walk. Every file it reads it reaches through an
// os.Root of the directory, so that nothing a step swaps in meanwhile (a
// directory replaced by a link) takes it outside.
type saver struct {
	ctx     context.Context
	root    *os.Root
	tw      *tar.Writer
	lim     Limits
	bytes   int64
	entries int
	dirs    map[string]bool // written as parents of SavePaths paths
}

// checkComponents reports whether the path p exists, refusing it when one
// of its components is a link, and writes the directories above it.
func (s *saver) checkComponents(p string) (bool, error) {
	parts := strings.Split(p, "/")
	for i := range parts {
		name := strings.Join(parts[:i+1], "/")
		info, err := s.root.Lstat(name)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && i < len(parts)-1 && !info.IsDir() && info.Mode()&fs.ModeSymlink == 0) {
			return false, nil // a file where a directory would be: p is not there
		}
		if err != nil {
			return false, err
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			return false, fmt.Errorf("%w %q: %s is a symbolic link", ErrUnsafePath, p, name)
		}
		if i < len(parts)-1 && !s.dirs[name] {
			s.dirs[name] = true
			if err := s.add(name, info); err != nil {
				return false, err
			}
		}
	}
	return true, nil
}

// walk writes start and everything below it (fs.WalkDir lists entries
// with Lstat: links are not followed).
func (s *saver) walk(start string) error {
	return fs.WalkDir(s.root.FS(), start, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := s.ctx.Err(); err != nil {
			return err
		}
		if name == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return s.add(name, info)
	})
}

// add counts one entry against the limits and writes it.
func (s *saver) add(name string, info fs.FileInfo) error {
	if s.entries++; s.entries > s.lim.entries() {
		return tooLarge("entries", s.lim.entries())
	}
	return s.write(name, info)
}

// write adds one directory, regular file or link; other types are left out.
func (s *saver) write(name string, info fs.FileInfo) error {
	hdr := &tar.Header{Name: name, Mode: int64(info.Mode().Perm()), ModTime: info.ModTime(), Format: tar.FormatPAX}
	switch {
	case info.IsDir():
		hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
	case info.Mode()&fs.ModeSymlink != 0:
		target, err := s.root.Readlink(name)
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
	return s.copyFile(name, hdr.Size)
}

// copyFile writes size bytes of the file name: a file that changed size
// since it was listed (a step still writing) is an error, not a torn entry.
func (s *saver) copyFile(name string, size int64) error {
	f, err := s.root.OpenFile(name, os.O_RDONLY|o_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(s.tw, io.LimitReader(f, size))
	if err == nil && n != size {
		err = fmt.Errorf("%s changed while it was saved", name)
	}
	return err
}
