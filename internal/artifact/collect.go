package artifact

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// File is one file Collect found.
type File struct {
	Name string // workspace-relative, "/"-separated
	Size int64
}

// Collected is what Collect found.
type Collected struct {
	Files []File // in the order of the globs, each glob's in name order
	// Notes say, for the step's log, what was left out: globs that matched
	// nothing, symbolic links.
	Notes []string
}

// matchesPerFile bounds a glob's matches (files, directories, links) to a
// multiple of the files allowed.
const matchesPerFile = 10

// maxLinkNotes bounds the links named in a note.
const maxLinkNotes = 5

// Collect matches globs (doublestar, workspace-relative: "dist/*.tar.gz",
// "coverage/**") against the workspace dir and returns the regular files
// they name; a directory matched stands for the files below it. A match that
// is, or goes through, a symbolic link is left out with a note, as is a glob
// that matches nothing. A glob that is not a workspace-relative pattern is
// an error, as are more files or bytes than lim allows (ErrTooLarge).
func Collect(ctx context.Context, dir string, globs []string, lim Limits) (Collected, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return Collected{}, fmt.Errorf("artifacts: %w", err)
	}
	defer root.Close()
	c := collector{ctx: ctx, root: root, lim: lim, seen: map[string]bool{}}
	for _, g := range globs {
		if err := c.glob(g); err != nil {
			return Collected{}, fmt.Errorf("artifacts %s: %w", g, err)
		}
	}
	if len(c.links) > 0 {
		c.out.Notes = append(c.out.Notes, linkNote(c.links))
	}
	return c.out, nil
}

// collector is one Collect.
type collector struct {
	ctx   context.Context
	root  *os.Root
	lim   Limits
	seen  map[string]bool
	bytes int64
	links []string
	out   Collected
}

// glob adds the files of one pattern.
func (c *collector) glob(pattern string) error {
	clean := path.Clean(pattern)
	if pattern == "" || path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") ||
		strings.ContainsAny(pattern, "\\\x00") || !doublestar.ValidatePattern(clean) {
		return errors.New("not a workspace-relative glob")
	}
	var matches []string
	err := doublestar.GlobWalk(c.root.FS(), clean, func(name string, _ fs.DirEntry) error {
		matches = append(matches, name)
		if len(matches) > matchesPerFile*c.lim.files() { // directories match too
			return tooLarge("matches", matchesPerFile*c.lim.files())
		}
		return c.ctx.Err()
	}, doublestar.WithNoFollow()) // a directory it cannot read (a link out: the os.Root refuses it) matches nothing
	if err != nil {
		return err
	}
	slices.Sort(matches)
	for _, m := range matches {
		if err := c.match(m); err != nil {
			return err
		}
	}
	if len(matches) == 0 {
		c.out.Notes = append(c.out.Notes, fmt.Sprintf("artifacts: %s matched no file", pattern))
	}
	return nil
}

// match adds the file name, or the files below the directory name, unless
// a component of it is a link.
func (c *collector) match(name string) error {
	info, ok, err := c.plain(name)
	if err != nil || !ok {
		return err
	}
	if !info.IsDir() {
		return c.add(name, info)
	}
	return fs.WalkDir(c.root.FS(), name, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if err := c.ctx.Err(); err != nil {
			return err
		}
		info, err := d.Info() // an Lstat: a link is a link
		if err != nil {
			return err
		}
		return c.add(p, info)
	})
}

// plain returns the Lstat of name, and false when a component of it is a
// symbolic link (noted) or it is gone.
func (c *collector) plain(name string) (fs.FileInfo, bool, error) {
	parts := strings.Split(name, "/")
	var info fs.FileInfo
	for i := range parts {
		var err error
		info, err = c.root.Lstat(strings.Join(parts[:i+1], "/"))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			c.links = append(c.links, strings.Join(parts[:i+1], "/"))
			return nil, false, nil
		}
	}
	return info, true, nil
}

// add adds a regular file once; a link is noted, other types ignored.
func (c *collector) add(name string, info fs.FileInfo) error {
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		c.links = append(c.links, name)
		return nil
	case !info.Mode().IsRegular() || c.seen[name]:
		return nil
	}
	c.seen[name] = true
	if len(c.out.Files) >= c.lim.files() {
		return tooLarge("files", c.lim.files())
	}
	if c.bytes += info.Size(); c.bytes > c.lim.bytes() {
		return tooLarge("bytes", c.lim.bytes())
	}
	c.out.Files = append(c.out.Files, File{Name: name, Size: info.Size()})
	return nil
}

func tooLarge(what string, limit any) error {
	return fmt.Errorf("%w: more than %v %s (narrow the artifact paths)", ErrTooLarge, limit, what)
}

// linkNote names the links left out, a few of them.
func linkNote(links []string) string {
	slices.Sort(links)
	links = slices.Compact(links)
	shown := links[:min(len(links), maxLinkNotes)]
	more := ""
	if len(links) > len(shown) {
		more = fmt.Sprintf(" and %d more", len(links)-len(shown))
	}
	return fmt.Sprintf("artifacts: left out %d symbolic link(s), which are never followed: %s%s",
		len(links), strings.Join(shown, ", "), more)
}
