package main

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	blobfs "github.com/narwhal-ci/narwhal/internal/blob/fs"
	"github.com/narwhal-ci/narwhal/internal/ci"
)

// TestStoreDisk: the disk guard watches the cache and artifact directories
// of a runner that keeps them on its disk, and evicts its cache entries
// least recently used first (a restore's Touch counts as a use); stores in
// S3 add nothing.
func TestStoreDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store := blobfs.New(filepath.Join(dir, "cache"))
	put(t, store, "cache/acme/app/go-old", "old entry")
	put(t, store, "cache/acme/app/go-new", "new")
	time.Sleep(20 * time.Millisecond)
	if err := store.Touch(t.Context(), "cache/acme/app/go-old"); err != nil { // restored just now
		t.Fatal(err)
	}
	d := &daemon{localCache: store, cfg: &Config{Cache: CacheConfig{StoreConfig: StoreConfig{Dir: filepath.Join(dir, "cache")}},
		Artifacts: StoreConfig{Dir: filepath.Join(dir, "artifacts")}}}
	paths, evictors := d.storeDisk()
	if !slices.Equal(paths, []string{filepath.Join(dir, "artifacts"), filepath.Join(dir, "cache")}) || len(evictors) != 1 {
		t.Fatalf("paths %v, %d evictors", paths, len(evictors))
	}
	cands, err := evictors[0].Candidates(t.Context())
	if err != nil || len(cands) != 2 || cands[0].What != "cache entry cache/acme/app/go-new" || cands[0].Bytes <= 0 ||
		cands[1].What != "cache entry cache/acme/app/go-old" {
		t.Fatalf("candidates %+v, %v; want go-new (used longest ago) first", cands, err)
	}
	if err := cands[0].Remove(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Open(t.Context(), "cache/acme/app/go-new"); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("evicted entry: %v", err)
	}

	d = &daemon{cfg: &Config{Cache: CacheConfig{StoreConfig: StoreConfig{S3Bucket: "b"}}, Artifacts: StoreConfig{Off: true}}}
	if paths, evictors := d.storeDisk(); len(paths) != 0 || len(evictors) != 0 {
		t.Errorf("stores off this disk: %v, %v", paths, evictors)
	}
}
