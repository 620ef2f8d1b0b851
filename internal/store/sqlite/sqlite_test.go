package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/store/storetest"
)

func openT(t *testing.T, path string) *Store {
	t.Helper()
	return openWith(t, path, Options{})
}

// openExclusive opens an exclusive Store (see Options), closed at cleanup.
func openExclusive(t *testing.T, path string) *Store {
	t.Helper()
	return openWith(t, path, Options{Exclusive: true})
}

func openWith(t *testing.T, path string, opts Options) *Store {
	t.Helper()
	s, err := OpenWith(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("OpenWith(%s, %+v): %v", path, opts, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContractMemory(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) ci.Store { return openT(t, Memory) })
}

func TestContractFile(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) ci.Store {
		return openT(t, filepath.Join(t.TempDir(), "narwhal.db"))
	})
}

func newJob(id string) ci.Job {
	return ci.Job{ID: id, Repo: "octo/hello", Branch: "main", Status: ci.StatusQueued, Attempt: 1}
}

// TestReopen shows that a file store keeps its jobs and runners, runs in WAL
// mode, and that opening an up-to-date schema migrates nothing.
func TestReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "narwhal.db")
	s := openT(t, path)
	created, err := s.CreateJob(ctx, newJob("job-1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutRunner(ctx, ci.Runner{ID: "r-1", Capacity: 2}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openT(t, path)
	if v, err := s.SchemaVersion(ctx); err != nil || v != len(migrations) {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, len(migrations))
	}
	var mode string
	if err := s.w.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	got, err := s.GetJob(ctx, "job-1")
	if err != nil || got.Version != 1 || !got.CreatedAt.Equal(created.CreatedAt) {
		t.Errorf("GetJob after reopen = %+v, %v; want %+v", got, err, created)
	}
	if r, err := s.GetRunner(ctx, "r-1"); err != nil || r.Capacity != 2 {
		t.Errorf("GetRunner after reopen = %+v, %v", r, err)
	}
}

// TestNewerSchema refuses a database written by a newer narwhal.
func TestNewerSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "narwhal.db")
	s := openT(t, path)
	if _, err := s.w.ExecContext(ctx, `UPDATE schema_version SET version = 99`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s2, err := Open(ctx, path); err == nil {
		s2.Close()
		t.Fatal("Open of a schema from the future succeeded")
	}
}

// TestConcurrentFirstOpens: stores opening one new file at once all open it
// (switching the new file to WAL failed one of them with SQLITE_BUSY every
// few rounds, whatever busy_timeout said).
func TestConcurrentFirstOpens(t *testing.T) {
	t.Parallel()
	const rounds, n = 20, 6
	for range rounds {
		path := filepath.Join(t.TempDir(), "narwhal.db")
		errs := make(chan error, n)
		for range n {
			go func() {
				s, err := Open(context.Background(), path)
				if err == nil {
					err = s.Close()
				}
				errs <- err
			}()
		}
		for range n {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestTwoStoresOneFile runs writers through two Stores on the same file, as
// two processes would: busy_timeout and immediate transactions keep them from
// failing with SQLITE_BUSY, and the version check keeps every update.
func TestTwoStoresOneFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "narwhal.db")
	a, b := openT(t, path), openT(t, path)
	if _, err := a.CreateJob(ctx, newJob("job-shared")); err != nil {
		t.Fatal(err)
	}
	const n = 40
	errs := make(chan error, n)
	for i := range n {
		s := []*Store{a, b}[i%2]
		go func() {
			_, err := ci.Update(ctx, s, "job-shared", func(j *ci.Job) error {
				j.Deliveries = append(j.Deliveries, fmt.Sprint(i))
				return nil
			})
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("Update: %v", err)
		}
	}
	got, err := b.GetJob(ctx, "job-shared")
	if err != nil || len(got.Deliveries) != n || got.Version != n+1 {
		t.Errorf("after %d updates: %d deliveries, version %d, err %v", n, len(got.Deliveries), got.Version, err)
	}
}

func TestClosed(t *testing.T) {
	t.Parallel()
	s := openT(t, Memory)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.GetJob(context.Background(), "x"); !errors.Is(err, ci.ErrClosed) {
		t.Errorf("GetJob after Close: err = %v, want ErrClosed", err)
	}
	if err := s.PutRunner(context.Background(), ci.Runner{ID: "r"}); !errors.Is(err, ci.ErrClosed) {
		t.Errorf("PutRunner after Close: err = %v, want ErrClosed", err)
	}
}

// TestWaitsForOtherWriter holds the write lock from one Store, as another
// process would, while a second Store writes: the write waits for the lock
// (busy_timeout) instead of failing with SQLITE_BUSY.
func TestWaitsForOtherWriter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "narwhal.db")
	a, b := openT(t, path), openT(t, path)
	tx, err := a.w.BeginTx(ctx, nil) // immediate: takes the write lock now
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := b.CreateJob(ctx, newJob("job-waiting"))
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("CreateJob did not wait for the lock: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("CreateJob after the lock was released: %v", err)
	}
}

func TestOpenPaths(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a dir with spaces & #hash")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := openT(t, filepath.Join(dir, "narwhal.db"))
	if _, err := s.CreateJob(context.Background(), newJob("job-1")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "narwhal.db")); err != nil {
		t.Errorf("database file not where asked: %v", err)
	}
	for _, bad := range []string{"", filepath.Join(dir, "what?.db")} {
		if s, err := Open(context.Background(), bad); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
	// A refused path creates nothing: neither a file in dir ("what", the path
	// up to its '?', or its lock file) nor, for the empty path, a file here
	// named after the parameters.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "narwhal.db") { // the open store's file, -wal, -shm and -lock
			t.Errorf("refused Open left %s in %s", e.Name(), dir)
		}
	}
	if strays, _ := filepath.Glob("?_pragma*"); len(strays) > 0 {
		for _, f := range strays {
			os.Remove(f)
		}
		t.Errorf("refused Open left %v behind", strays)
	}
}
