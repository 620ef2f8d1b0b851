package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/store/storetest"
)

func TestContractFileExclusive(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) ci.Store {
		return openExclusive(t, filepath.Join(t.TempDir(), "narwhal.db"))
	})
}

// TestExclusiveRefusesOthers: while an exclusive Store has the file, no other
// Store opens it, exclusive or not, and an exclusive one does not open a file
// another Store has; closing gives the file back.
func TestExclusiveRefusesOthers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "narwhal.db")
	ex, err := OpenWith(ctx, path, Options{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range []Options{{}, {Exclusive: true}} {
		if s, err := OpenWith(ctx, path, opts); !errors.Is(err, ErrInUse) {
			if err == nil {
				s.Close()
			}
			t.Errorf("OpenWith(%+v) beside an exclusive store: %v; want ErrInUse", opts, err)
		}
	}
	ex.Close()
	shared := openT(t, path)
	if s, err := OpenWith(ctx, path, Options{Exclusive: true}); !errors.Is(err, ErrInUse) {
		if err == nil {
			s.Close()
		}
		t.Errorf("exclusive OpenWith beside a shared store: %v; want ErrInUse", err)
	}
	if _, err := shared.CreateJob(ctx, newJob("job-shared")); err != nil {
		t.Fatal(err)
	}
	shared.Close()
	again := openExclusive(t, path)
	if _, err := again.GetJob(ctx, "job-shared"); err != nil {
		t.Errorf("GetJob after reopening exclusively: %v", err)
	}
}

// TestExclusiveCacheMatchesFile: under concurrent updates of a few jobs and
// runners, what an exclusive Store answers from memory is what the file
// holds, read by a connection of its own.
func TestExclusiveCacheMatchesFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openExclusive(t, filepath.Join(t.TempDir(), "narwhal.db"))
	const jobs, rounds = 8, 50
	var wg sync.WaitGroup
	for i := range jobs {
		id := fmt.Sprintf("job-%d", i)
		if _, err := s.CreateJob(ctx, newJob(id)); err != nil {
			t.Fatal(err)
		}
		for range 4 { // four writers per job race on its version
			wg.Go(func() {
				for range rounds {
					j, err := s.GetJob(ctx, id)
					if err == nil {
						j.Waiting = time.Now().String()
						_, err = s.UpdateJob(ctx, j)
					}
					if err != nil && !errors.Is(err, ci.ErrConflict) {
						t.Error(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	for i := range jobs {
		id := fmt.Sprintf("job-%d", i)
		var doc string
		if err := s.r.QueryRowContext(ctx, sqlGetJob, id).Scan(&doc); err != nil {
			t.Fatal(err)
		}
		c, ok := s.cached(id)
		if !ok || string(c.doc) != doc {
			t.Errorf("%s: cached %t %s; the file holds %s", id, ok, c.doc, doc)
		}
		if v, err := s.JobVersion(ctx, id); err != nil || v != c.version {
			t.Errorf("%s: JobVersion %d, %v; cached %d", id, v, err, c.version)
		}
	}
}

// TestExclusiveRunnerCache: a runner put is read back, an expired one is
// hidden as in the file, a deleted one is gone.
func TestExclusiveRunnerCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openExclusive(t, filepath.Join(t.TempDir(), "narwhal.db"))
	now := time.Now().UTC()
	live := ci.Runner{ID: "r-live", Address: "a:1", Capacity: 2, State: ci.RunnerActive, ExpiresAt: now.Add(time.Hour)}
	gone := ci.Runner{ID: "r-expired", Address: "a:2", Capacity: 2, State: ci.RunnerActive, ExpiresAt: now.Add(-time.Second)}
	for _, r := range []ci.Runner{live, gone} {
		if err := s.PutRunner(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if r, err := s.GetRunner(ctx, live.ID); err != nil || r.Address != live.Address {
		t.Errorf("GetRunner(live) = %+v, %v", r, err)
	}
	if _, err := s.GetRunner(ctx, gone.ID); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("GetRunner(expired): %v; want ErrNotFound", err)
	}
	if err := s.DeleteRunner(ctx, live.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetRunner(ctx, live.ID); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("GetRunner(deleted): %v; want ErrNotFound", err)
	}
}

// TestJobCacheBounds: the cache keeps at most cacheJobs entries and about
// cacheBytes of documents, dropping the oldest first.
func TestJobCacheBounds(t *testing.T) {
	t.Parallel()
	c := newJobCache()
	for i := range cacheJobs + 10 {
		c.put(fmt.Sprintf("j%d", i), 1, []byte("{}"))
	}
	if len(c.m) != cacheJobs {
		t.Errorf("%d entries; want %d", len(c.m), cacheJobs)
	}
	if _, ok := c.get("j9"); ok {
		t.Error("j9, among the oldest, is still kept")
	}
	if _, ok := c.get(fmt.Sprintf("j%d", cacheJobs+9)); !ok {
		t.Error("the newest entry is not kept")
	}
	c.put("j10", 2, []byte(`{"v":2}`)) // a rewrite keeps its place
	if j, _ := c.get("j10"); j.version != 2 {
		t.Errorf("j10 at version %d; want 2", j.version)
	}
	big := make([]byte, cacheBytes/4+1)
	for i := range 4 {
		c.put(fmt.Sprintf("big%d", i), 1, big)
	}
	if c.bytes > cacheBytes || len(c.m) == 0 {
		t.Errorf("%d bytes in %d entries; want at most %d", c.bytes, len(c.m), cacheBytes)
	}
	if _, ok := c.get("big3"); !ok {
		t.Error("the newest big entry is not kept")
	}
}
