// Package fs is the blob.Store in a directory: the object with key K is the
// file dir/K, written to a temporary file beside it and renamed into place,
// so that a reader sees a whole object or none. runnerd keeps its workspace
// snapshots here when it has no S3 bucket, and narwhal dev keeps them under
// its directory, which all its runners share.
package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/narwhal-ci/narwhal/internal/blob"
	"github.com/narwhal-ci/narwhal/internal/ci"
)

// Store is a blob.Store in a directory. It is safe for concurrent use.
type Store struct {
	dir       string
	listLimit int // blob.MaxList; lower in tests
}

var _ blob.Store = (*Store)(nil)

// New returns the store in dir, which is created on the first Put.
func New(dir string) *Store { return &Store{dir: dir, listLimit: blob.MaxList} }

// tmpPrefix marks a Put in progress; no key segment starts with ".".
const tmpPrefix = ".put-"

// Put writes r to a temporary file beside the object, syncs it and renames it
// into place; see blob.Store.
func (s *Store) Put(ctx context.Context, key string, r io.ReadSeeker) error {
	if err := blob.CheckKey(key); err != nil {
		return err
	}
	path := filepath.Join(s.dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), tmpPrefix+"*")
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	err = write(ctx, tmp, r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// write copies r to f, stopping when ctx ends, and syncs f.
func write(ctx context.Context, f *os.File, r io.Reader) error {
	if _, err := io.Copy(f, ctxReader{ctx, r}); err != nil {
		return err
	}
	return f.Sync()
}

// ctxReader fails its reads once ctx has ended.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Open opens the object's file; see blob.Store.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := blob.CheckKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(s.dir, filepath.FromSlash(key)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", key, ci.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", key, err)
	}
	return f, nil
}

// Delete removes the object's file; see blob.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := blob.CheckKey(key); err != nil {
		return err
	}
	err := os.Remove(filepath.Join(s.dir, filepath.FromSlash(key)))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete blob %s: %w", key, err)
	}
	return nil
}

// Touch sets the object file's modification time to now; see blob.Store.
func (s *Store) Touch(ctx context.Context, key string) error {
	if err := blob.CheckKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	now := time.Now()
	err := os.Chtimes(filepath.Join(s.dir, filepath.FromSlash(key)), now, now)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("touch blob %s: %w", key, ci.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("touch blob %s: %w", key, err)
	}
	return nil
}

// List walks the directory of prefix in key order (a directory's entries
// sorted as the keys below them sort) and stops after listLimit objects;
// see blob.Store. Files of Puts in progress are left out.
func (s *Store) List(ctx context.Context, prefix string) ([]blob.Object, error) {
	if err := blob.CheckPrefix(prefix); err != nil {
		return nil, err
	}
	prefix = strings.TrimSuffix(prefix, "/")
	l := lister{ctx: ctx, limit: s.listLimit}
	err := l.walk(filepath.Join(s.dir, filepath.FromSlash(prefix)), prefix)
	if errors.Is(err, errFull) {
		return l.out, blob.Truncated(prefix)
	}
	if err != nil {
		return nil, fmt.Errorf("list blobs %q: %w", prefix, err)
	}
	return l.out, nil
}

// lister is one List.
type lister struct {
	ctx   context.Context
	limit int
	out   []blob.Object
}

// errFull ends a walk that found more than limit objects.
var errFull = errors.New("full")

// walk adds the objects in directory path, whose key is key ("" for the
// store's root), in key order: the entries sort by their name with a "/"
// after a directory's, as "a-b/x" < "a/x" among keys.
func (l *lister) walk(path, key string) error {
	if err := l.ctx.Err(); err != nil {
		return err
	}
	entries, err := os.ReadDir(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil
	}
	if err != nil {
		return err
	}
	sortName := func(d fs.DirEntry) string {
		if d.IsDir() {
			return d.Name() + "/"
		}
		return d.Name()
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(sortName(a), sortName(b)) })
	for _, d := range entries {
		if strings.HasPrefix(d.Name(), ".") { // a Put in progress; no key segment starts with "."
			continue
		}
		if err := l.entry(filepath.Join(path, d.Name()), join(key, d.Name()), d); err != nil {
			return err
		}
	}
	return nil
}

// entry adds the object file, or walks the directory, d.
func (l *lister) entry(path, key string, d fs.DirEntry) error {
	if d.IsDir() {
		return l.walk(path, key)
	}
	info, err := d.Info()
	if errors.Is(err, fs.ErrNotExist) { // deleted meanwhile
		return nil
	}
	if err != nil || !info.Mode().IsRegular() {
		return err
	}
	if len(l.out) == l.limit {
		return errFull
	}
	l.out = append(l.out, blob.Object{Key: key, Size: info.Size(), Modified: info.ModTime()})
	return nil
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "/" + name
}

// Sweep removes the files under prefix modified before the given time (a
// Put renames a fresh file, so that is when it was put), and what crashed
// Puts left that long ago; empty directories stay. See blob.Store.
func (s *Store) Sweep(ctx context.Context, prefix string, before time.Time) (int, error) {
	if err := blob.CheckPrefix(prefix); err != nil {
		return 0, err
	}
	root := filepath.Join(s.dir, filepath.FromSlash(strings.TrimSuffix(prefix, "/")))
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || ctx.Err() != nil {
			return errors.Join(err, ctx.Err())
		}
		if d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil && info.ModTime().Before(before) && os.Remove(path) == nil &&
			!strings.HasPrefix(d.Name(), tmpPrefix) { // a crashed Put's file goes too, uncounted
			n++
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("sweep blobs %s: %w", prefix, err)
	}
	return n, nil
}
