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
	"strings"
	"time"

	"github.com/narwhal-ci/narwhal/internal/blob"
	"github.com/narwhal-ci/narwhal/internal/ci"
)

// Store is a blob.Store in a directory. It is safe for concurrent use.
type Store struct {
	dir string
}

var _ blob.Store = (*Store)(nil)

// New returns the store in dir, which is created on the first Put.
func New(dir string) *Store { return &Store{dir: dir} }

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
