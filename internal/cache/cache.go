// Package cache keeps the caches of narwhal.yml steps (cache: key, paths,
// restore_keys): workspace paths saved as a snapshot archive (internal/
// snapshot: zstd-compressed tar, streamed) in a blob.Store, per repository,
// under a size cap with least-recently-used eviction.
//
// Layout: the entry of cache key K of repository owner/name is the object
// cache/<owner>/<name>/<K> (Key). Its Modified time (blob.Object) is when
// it was last saved or restored: a restore Touches the entry it used, and
// eviction removes the entries used longest ago. The key has no ".tar.zst"
// suffix because a cache key may already be as long as a blob key segment.
//
// The workspace is a hostile commit's to shape. A restore unpacks the
// archive into a fresh directory inside the workspace, through an os.Root
// (nothing lands outside it), and renames each of the cache's paths into
// place only where the workspace has nothing (or an empty directory): a
// restore that fails leaves the workspace as it was. A save reads only the
// paths named and refuses a path that goes through a symbolic link
// (snapshot.SavePaths). Which jobs may save (not a fork's pull request) is
// the runner's decision.
package cache

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/narwhal-ci/narwhal/internal/blob"
	"github.com/narwhal-ci/narwhal/internal/cachekey"
)

// Prefix is the blob key prefix of every cache entry.
const Prefix = "cache"

// DefaultMaxBytes is a repository's cache size cap when none is set: the
// sum of its entries' archive sizes.
const DefaultMaxBytes = 5 << 30 // 5 GiB

// Spec is one step's cache, its templates rendered (cachekey.Render).
type Spec struct {
	Key         string   // the entry saved, and restored on a hit
	RestoreKeys []string // prefixes tried in order on a miss
	Paths       []string // workspace-relative
}

// check refuses a spec whose keys are not cache keys.
func (s Spec) check() error {
	for _, k := range append([]string{s.Key}, s.RestoreKeys...) {
		if err := cachekey.CheckKey(k); err != nil {
			return fmt.Errorf("cache key: %w", err)
		}
	}
	if len(s.Paths) == 0 {
		return errors.New("cache has no paths")
	}
	return nil
}

// Key is the blob key of the entry of cache key key of repo ("owner/name").
func Key(repo, key string) (string, error) {
	p, err := RepoPrefix(repo)
	if err != nil {
		return "", err
	}
	if err := cachekey.CheckKey(key); err != nil {
		return "", fmt.Errorf("cache key: %w", err)
	}
	return p + "/" + key, nil
}

// RepoPrefix is the blob key prefix of repo's entries: cache/<owner>/<name>,
// each part as itself when it is a plain blob key segment, "_" and itself
// when it starts with '.' or '_' (".github"), and "_x" and a hash of it
// otherwise, so that two repositories never share a prefix.
func RepoPrefix(repo string) (string, error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return "", fmt.Errorf("cache of repository %q: want owner/name", repo)
	}
	return Prefix + "/" + segment(owner) + "/" + segment(name), nil
}

// The segments kept as they are (plain) or behind a '_' (dotted), up to
// maxSegmentLen bytes with the '_': lengths are checked apart from the
// patterns, whose counted repetitions compiled to a program per count at
// every process start.
var (
	plainSegment   = regexp.MustCompile(`^[A-Za-z0-9-][A-Za-z0-9._-]*$`)
	dottedSegment  = regexp.MustCompile(`^[._][A-Za-z0-9._-]*$`)
	escapedSegment = regexp.MustCompile(`^_[._]`)
)

const maxSegmentLen = 127

// segment is one part of a repository's name as a key segment.
func segment(s string) string {
	switch {
	case len(s) <= maxSegmentLen && plainSegment.MatchString(s) && s != "..":
		return s
	case len(s) < maxSegmentLen && dottedSegment.MatchString(s) && s != "." && s != "..":
		return "_" + s
	}
	sum := sha256.Sum256([]byte(s))
	return "_x" + hex.EncodeToString(sum[:16])
}

// unsegment is the repository part that segment gave s; a hashed one is
// returned as it is.
func unsegment(s string) string {
	if escapedSegment.MatchString(s) {
		return s[1:]
	}
	return s
}

// Entry is one stored cache entry.
type Entry struct {
	Repo string // owner/name ("_x…" for a part that had to be hashed)
	Key  string // the cache key
	Blob string // the blob key, for Remove
	Size int64  // of the archive
	Used time.Time
}

// Entries lists every repository's cache entries, least recently used
// first: what a runner's disk guard evicts from. A listing past
// blob.MaxList returns the entries it got with an error matching
// blob.ErrTruncated.
func Entries(ctx context.Context, store blob.Store) ([]Entry, error) {
	objs, err := store.List(ctx, Prefix)
	if err != nil && !errors.Is(err, blob.ErrTruncated) {
		return nil, fmt.Errorf("list cache entries: %w", err)
	}
	return entries(objs), err
}

// entries are the cache entries among objs, least recently used first.
func entries(objs []blob.Object) []Entry {
	out := make([]Entry, 0, len(objs))
	for _, o := range objs {
		e := Entry{Blob: o.Key, Size: o.Size, Used: o.Modified}
		if parts := strings.Split(o.Key, "/"); len(parts) == 4 {
			e.Repo, e.Key = unsegment(parts[1])+"/"+unsegment(parts[2]), parts[3]
		}
		out = append(out, e)
	}
	slices.SortStableFunc(out, func(a, b Entry) int { return cmp.Or(a.Used.Compare(b.Used), strings.Compare(a.Blob, b.Blob)) })
	return out
}

// Remove deletes the cache entry whose blob key is blobKey (Entry.Blob);
// a key outside the cache's prefix is refused.
func Remove(ctx context.Context, store blob.Store, blobKey string) error {
	if !strings.HasPrefix(blobKey, Prefix+"/") {
		return fmt.Errorf("remove cache entry %q: not a cache entry", blobKey)
	}
	if err := store.Delete(ctx, blobKey); err != nil {
		return fmt.Errorf("remove cache entry: %w", err)
	}
	return nil
}
