package cache

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/narwhal-ci/narwhal/internal/blob"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/snapshot"
)

// Restored is what Restore did.
type Restored struct {
	// Key is the cache key of the entry restored: spec.Key on a hit, the
	// most recently used entry matching a restore_keys prefix on a partial
	// hit, "" on a miss.
	Key  string
	Hit  bool
	Size int64 // of the archive read
	// Kept are the cache's paths that the workspace already had (not
	// empty), left as they were.
	Kept []string
}

// TouchAfter is how old an entry's last use must be for a restore to
// Touch it: on S3 a Touch copies the object onto itself, which is not worth
// doing on every hit; eviction orders entries used within the hour as if
// used at its start.
const TouchAfter = time.Hour

// Restore restores the cache spec of repo into the workspace dir: the entry
// of spec.Key when there is one, else for each of spec.RestoreKeys in order
// the most recently used entry whose key starts with it; a miss is no error.
// The entry restored is Touched when its last use is older than TouchAfter
// (a failed Touch only makes eviction a little less exact). lim bounds the
// archive's content.
//
// The archive goes to a new directory inside dir, confined to it by an
// os.Root, and each of spec.Paths found there is renamed into place where dir
// has nothing at that path or an empty directory; any error leaves dir as it
// was (but for that directory's removal, which Restore does too).
func Restore(ctx context.Context, store blob.Store, repo, dir string, spec Spec, lim snapshot.Limits) (Restored, error) {
	return restore(ctx, store, repo, dir, spec, lim, TouchAfter)
}

// restore is Restore, touching what was last used touchAfter ago or more.
func restore(ctx context.Context, store blob.Store, repo, dir string, spec Spec, lim snapshot.Limits, touchAfter time.Duration) (Restored, error) {
	if err := spec.check(); err != nil {
		return Restored{}, err
	}
	prefix, err := RepoPrefix(repo)
	if err != nil {
		return Restored{}, err
	}
	e, r, err := find(ctx, store, prefix, spec)
	if err != nil || r == nil {
		return Restored{}, err
	}
	defer r.Close()
	res := Restored{Key: e.Key, Hit: e.Key == spec.Key}
	cr := &countingReader{r: r}
	res.Kept, err = unpack(ctx, cr, dir, spec.Paths, lim)
	res.Size = cr.n
	if err != nil {
		return Restored{}, fmt.Errorf("restore cache %s: %w", e.Key, err)
	}
	if time.Since(e.Used) >= touchAfter {
		_ = store.Touch(ctx, e.Blob)
	}
	return res, nil
}

// find opens the entry to restore: spec.Key's, or the most recently used
// one matching a restore key, from one listing of the repository's entries
// (and, when that listing was cut short, an Open of spec.Key's). It returns
// a nil reader on a miss.
func find(ctx context.Context, store blob.Store, prefix string, spec Spec) (Entry, io.ReadCloser, error) {
	objs, err := store.List(ctx, prefix)
	truncated := errors.Is(err, blob.ErrTruncated)
	if err != nil && !truncated {
		return Entry{}, nil, fmt.Errorf("restore cache %s: %w", spec.Key, err)
	}
	byUse := entries(objs)
	slices.Reverse(byUse) // most recently used first
	exact := Entry{Key: spec.Key, Blob: prefix + "/" + spec.Key}
	if i := slices.IndexFunc(byUse, func(e Entry) bool { return e.Key == spec.Key }); i >= 0 {
		exact = byUse[i]
	} else if !truncated {
		exact = Entry{}
	}
	candidates := func(yield func(Entry) bool) {
		if exact.Key != "" && !yield(exact) {
			return
		}
		for _, rk := range spec.RestoreKeys {
			for _, e := range byUse {
				if strings.HasPrefix(e.Key, rk) && !yield(e) {
					return
				}
			}
		}
	}
	for e := range candidates {
		r, err := store.Open(ctx, e.Blob)
		if errors.Is(err, ci.ErrNotFound) { // evicted meanwhile
			continue
		}
		if err != nil {
			return Entry{}, nil, fmt.Errorf("restore cache %s: %w", e.Key, err)
		}
		return e, r, nil
	}
	return Entry{}, nil, nil
}

// stagingPrefix names the directory a restore unpacks into, inside the
// workspace.
const stagingPrefix = ".narwhal-cache-"

// unpack restores the archive r into a staging directory of dir and moves
// paths into place; it returns the paths dir already had.
func unpack(ctx context.Context, r io.Reader, dir string, paths []string, lim snapshot.Limits) ([]string, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	staging := stagingPrefix + rand.Text()[:16]
	if err := root.Mkdir(staging, 0o700); err != nil {
		return nil, err
	}
	defer root.RemoveAll(staging)
	sub, err := root.OpenRoot(staging)
	if err != nil {
		return nil, err
	}
	_, err = snapshot.RestoreRoot(ctx, r, sub, lim)
	sub.Close()
	if err != nil {
		return nil, err
	}
	// What is left after the tar's end (the zstd frame's end) is read, so
	// that Size counts it, a little at most.
	if _, err := io.Copy(io.Discard, io.LimitReader(r, 1<<20)); err != nil {
		return nil, err
	}
	return place(root, staging, paths)
}

// place renames each of paths from staging into place in root; on an error
// it removes what it placed.
func place(root *os.Root, staging string, paths []string) ([]string, error) {
	var kept, placed []string
	for _, p := range cleanPaths(paths) {
		ok, err := placeOne(root, staging, p)
		if err != nil {
			for _, q := range placed {
				_ = root.RemoveAll(q)
			}
			return nil, fmt.Errorf("place %s: %w", p, err)
		}
		switch {
		case ok:
			placed = append(placed, p)
		case exists(root, path.Join(staging, p)):
			kept = append(kept, p)
		}
	}
	return kept, nil
}

// placeOne moves staging/p to p when the archive has p and the workspace
// has nothing there, or an empty directory.
func placeOne(root *os.Root, staging, p string) (bool, error) {
	if !exists(root, path.Join(staging, p)) {
		return false, nil
	}
	if err := noLinks(root, staging, p); err != nil {
		return false, err
	}
	info, err := root.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return false, err
	case info.IsDir() && root.Remove(p) == nil: // an empty directory goes; a full one stays
	default:
		return false, nil
	}
	if err := root.MkdirAll(path.Dir(p), 0o755); err != nil {
		return false, err
	}
	return true, root.Rename(path.Join(staging, p), p)
}

// noLinks refuses an archive in which a component of p is a link, which
// snapshot.SavePaths never writes.
func noLinks(root *os.Root, staging, p string) error {
	parts := strings.Split(p, "/")
	for i := range parts {
		info, err := root.Lstat(path.Join(staging, strings.Join(parts[:i+1], "/")))
		if err != nil {
			return err
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%w: %s is a link", snapshot.ErrBadArchive, strings.Join(parts[:i+1], "/"))
		}
	}
	return nil
}

func exists(root *os.Root, name string) bool {
	_, err := root.Lstat(name)
	return err == nil
}

// cleanPaths are paths cleaned, without duplicates and without those inside
// another (snapshot.SavePaths saves them so; it refuses unsafe ones, and a
// restore of one simply finds nothing).
func cleanPaths(paths []string) []string {
	var out []string
	for _, p := range paths {
		if c := path.Clean(p); c != "." && !strings.HasPrefix(c, "../") && c != ".." && !path.IsAbs(c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	return slices.DeleteFunc(out, func(p string) bool {
		return slices.ContainsFunc(out, func(q string) bool { return strings.HasPrefix(p, q+"/") })
	})
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
