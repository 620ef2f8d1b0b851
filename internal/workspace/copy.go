package workspace

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Copy copies the working tree at src into dst (created if missing, and
// expected to be empty) for running a tree that has no commit. It copies
// directories, regular files and symlinks with their permission bits;
// symlinks are recreated as links with the same target and never followed,
// so nothing outside src is read. Sockets, FIFOs and devices cannot be copied
// and are skipped. When dst lies inside src, it is not copied into itself.
// ctx is checked between entries.
func Copy(ctx context.Context, src, dst string) error {
	src, err := filepath.EvalSymlinks(src)
	if err != nil {
		return fmt.Errorf("copy tree: %w", err)
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return fmt.Errorf("copy tree: %w", err)
	}
	if dst, err = filepath.EvalSymlinks(dst); err != nil {
		return fmt.Errorf("copy tree: %w", err)
	}
	c := &copier{ctx: ctx, src: src, dst: dst}
	if err := filepath.WalkDir(src, c.visit); err != nil {
		return fmt.Errorf("copy tree: %w", err)
	}
	return c.fixDirModes()
}

// copier holds the state of one Copy.
type copier struct {
	ctx      context.Context
	src, dst string
	dirs     []dirMode // directories to chmod once their content is written
}

// dirMode is a copied directory and the mode it must end up with.
type dirMode struct {
	path string
	mode fs.FileMode
}

// visit copies one entry of the walk.
func (c *copier) visit(path string, d fs.DirEntry, err error) error {
	if err != nil {
		return err
	}
	if err := c.ctx.Err(); err != nil {
		return err
	}
	if path == c.dst {
		return filepath.SkipDir
	}
	rel, err := filepath.Rel(c.src, path)
	if err != nil {
		return err
	}
	target := filepath.Join(c.dst, rel)
	switch {
	case d.IsDir():
		return c.copyDir(path, target, d)
	case d.Type()&fs.ModeSymlink != 0:
		return copyLink(path, target)
	case d.Type().IsRegular():
		return copyFile(path, target)
	}
	return nil
}

// copyDir creates target writable by its owner; its real mode is set by
// fixDirModes after its content is copied, in case it is read-only.
func (c *copier) copyDir(path, target string, d fs.DirEntry) error {
	info, err := d.Info()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(target, 0o700); err != nil {
		return err
	}
	c.dirs = append(c.dirs, dirMode{target, info.Mode().Perm()})
	return nil
}

// fixDirModes gives copied directories their modes, deepest first.
func (c *copier) fixDirModes() error {
	for i := len(c.dirs) - 1; i >= 0; i-- {
		if err := os.Chmod(c.dirs[i].path, c.dirs[i].mode); err != nil {
			return fmt.Errorf("copy tree: %w", err)
		}
	}
	return nil
}

// copyLink recreates the symlink at path as target, pointing where it did.
func copyLink(path, target string) error {
	link, err := os.Readlink(path)
	if err != nil {
		return err
	}
	return os.Symlink(link, target)
}

// copyFile copies a regular file and its permission bits.
func copyFile(path, target string) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Chmod(info.Mode().Perm())
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
