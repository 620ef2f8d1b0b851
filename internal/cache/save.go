package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/narwhal-ci/narwhal/internal/blob"
	"github.com/narwhal-ci/narwhal/internal/snapshot"
)

// SaveOptions are how Save saves.
type SaveOptions struct {
	// MaxBytes caps the sum of the archive sizes of the repository's
	// entries; 0 means DefaultMaxBytes.
	MaxBytes int64
	// Limits bound the content of one entry; zero fields take the snapshot
	// defaults.
	Limits snapshot.Limits
	// Spool is the directory of the temporary archive: on the workspace's
	// file system, so that the archive is never in memory. Required.
	Spool string
}

func (o SaveOptions) maxBytes() int64 {
	if o.MaxBytes > 0 {
		return o.MaxBytes
	}
	return DefaultMaxBytes
}

// Saved is what Save stored.
type Saved struct {
	Size    int64    // of the archive
	Content int64    // bytes of file content in it
	Missing []string // spec.Paths the workspace does not have, left out
	Evicted []string // cache keys of the repository's entries removed to stay under the cap
}

// ErrNothingToSave is the error of a Save none of whose paths exist.
var ErrNothingToSave = errors.New("none of the cache's paths exist")

// ErrOverCap is the error of an entry larger than its repository's cap.
var ErrOverCap = errors.New("cache entry larger than the repository's cache size cap")

// Save saves spec.Paths of the workspace dir as the entry spec.Key of repo,
// replacing one there, then evicts the repository's least recently used
// other entries until their sizes add up to no more than the cap. The
// archive is spooled to a temporary file in opts.Spool first (the blob store
// wants its length), never held in memory. A path through a symbolic link
// is refused (snapshot.ErrUnsafePath); an entry larger than the cap is not
// stored (ErrOverCap); one with none of its paths, neither (ErrNothingToSave).
func Save(ctx context.Context, store blob.Store, repo, dir string, spec Spec, opts SaveOptions) (Saved, error) {
	if err := spec.check(); err != nil {
		return Saved{}, err
	}
	key, err := Key(repo, spec.Key)
	if err != nil {
		return Saved{}, err
	}
	f, err := os.CreateTemp(opts.Spool, "cache-*.tar.zst")
	if err != nil {
		return Saved{}, fmt.Errorf("save cache %s: %w", spec.Key, err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	var s Saved
	s.Content, s.Missing, err = snapshot.SavePaths(ctx, dir, spec.Paths, f, opts.Limits)
	if err == nil && len(s.Missing) == len(cleanPaths(spec.Paths)) {
		err = fmt.Errorf("%w (%s)", ErrNothingToSave, strings.Join(s.Missing, ", "))
	}
	if err == nil {
		s.Size, err = put(ctx, store, key, f, opts.maxBytes())
	}
	if err != nil {
		return Saved{}, fmt.Errorf("save cache %s: %w", spec.Key, err)
	}
	s.Evicted, err = evict(ctx, store, key, opts.maxBytes())
	if err != nil {
		return s, fmt.Errorf("cache %s saved, but evicting older entries: %w", spec.Key, err)
	}
	return s, nil
}

// put stores the archive f (written up to its offset) under key, unless it
// is larger than max, and returns its size.
func put(ctx context.Context, store blob.Store, key string, f *os.File, max int64) (int64, error) {
	size, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	if size > max {
		return 0, fmt.Errorf("%w: %d bytes, cap %d", ErrOverCap, size, max)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	return size, store.Put(ctx, key, f)
}

// evict removes the least recently used entries of the repository of key,
// never key itself, until they add up to no more than max, and returns their
// cache keys.
func evict(ctx context.Context, store blob.Store, key string, max int64) ([]string, error) {
	repo := key[:strings.LastIndex(key, "/")]
	objs, err := store.List(ctx, repo)
	if err != nil && !errors.Is(err, blob.ErrTruncated) {
		return nil, err
	}
	var total int64
	for _, o := range objs {
		total += o.Size
	}
	var evicted []string
	for _, e := range entries(objs) {
		if total <= max {
			break
		}
		if e.Blob == key {
			continue
		}
		if err := store.Delete(ctx, e.Blob); err != nil {
			return evicted, err
		}
		total -= e.Size
		evicted = append(evicted, e.Key)
	}
	return evicted, nil
}
