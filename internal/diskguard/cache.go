package diskguard

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// CacheEntry is one entry of a cache, as the cache lists it.
type CacheEntry struct {
	Key      string    // what Delete takes
	Bytes    int64     // its size
	LastUsed time.Time // when it was last saved or restored
}

// Cache evicts the entries of a cache that lives on a watched disk, through
// plain funcs so that any cache (internal/cache on a blob fs store) can be
// wired in without this package knowing it.
type Cache struct {
	// Dir is where the entries are stored: the filesystem their deletion
	// frees. Required.
	Dir string
	// List lists the entries that may be deleted now (not one being saved
	// or restored). Required.
	List func(ctx context.Context) ([]CacheEntry, error)
	// Delete deletes the entry of key; an entry already gone is not an
	// error. Required.
	Delete func(ctx context.Context, key string) error
}

// Name is "cache".
func (c Cache) Name() string { return "cache" }

// Candidates lists the cache's entries.
func (c Cache) Candidates(ctx context.Context) ([]Candidate, error) {
	if c.Dir == "" || c.List == nil || c.Delete == nil {
		return nil, errors.New("cache evictor: Dir, List and Delete are required")
	}
	entries, err := c.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list cache entries: %w", err)
	}
	out := make([]Candidate, 0, len(entries))
	for _, e := range entries {
		key := e.Key
		out = append(out, Candidate{What: "cache entry " + key, Path: c.Dir, LastUsed: e.LastUsed, Bytes: e.Bytes,
			Remove: func(ctx context.Context) error { return c.Delete(ctx, key) }})
	}
	return out, nil
}
