package main

import (
	"context"
	"errors"

	"github.com/narwhal-ci/narwhal/internal/blob"
	"github.com/narwhal-ci/narwhal/internal/cache"
	"github.com/narwhal-ci/narwhal/internal/diskguard"
)

// storeDisk is what the disk guard watches and evicts of the blob stores
// on this runner's disk: the directories of the cache and the artifacts
// (those in S3 take no room here), and the cache's entries, least recently
// used first. Artifacts are never evicted: the API serves them until
// their expiry (sweepLocalArtifacts).
func (d *daemon) storeDisk() (paths []string, evictors []diskguard.Evictor) {
	c := d.cfg
	if c.Artifacts.local() {
		paths = append(paths, c.Artifacts.Dir)
	}
	if d.localCache != nil {
		paths = append(paths, c.Cache.Dir)
		evictors = append(evictors, cacheEvictor(c.Cache.Dir, d.localCache))
	}
	return paths, evictors
}

// cacheEvictor offers the entries of the cache store in dir to the disk
// guard; a listing cut at blob.MaxList offers the entries it got.
func cacheEvictor(dir string, store blob.Store) diskguard.Cache {
	return diskguard.Cache{
		Dir: dir,
		List: func(ctx context.Context) ([]diskguard.CacheEntry, error) {
			entries, err := cache.Entries(ctx, store)
			if err != nil && !errors.Is(err, blob.ErrTruncated) {
				return nil, err
			}
			out := make([]diskguard.CacheEntry, 0, len(entries))
			for _, e := range entries {
				out = append(out, diskguard.CacheEntry{Key: e.Blob, Bytes: e.Size, LastUsed: e.Used})
			}
			return out, nil
		},
		Delete: func(ctx context.Context, key string) error { return cache.Remove(ctx, store, key) },
	}
}
