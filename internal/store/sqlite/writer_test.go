package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// holdWriter blocks the store's writer with a write that waits for the
// returned release, so that the writes made meanwhile queue up and go into
// one transaction.
func holdWriter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	gate, started := make(chan struct{}), make(chan struct{})
	go s.writes.write(context.Background(), func(context.Context, *sql.Tx) error {
		close(started)
		<-gate
		return nil
	})
	<-started
	return sync.OnceFunc(func() { close(gate) })
}

// waitQueued waits until n writes are queued behind the held writer.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); len(s.writes.ops) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued, want %d", len(s.writes.ops), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// In one batch, creates of new IDs succeed, a create of an existing ID and
// an update with a stale version fail alone, with their own errors.
func TestGroupCommitOwnResults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openT(t, filepath.Join(t.TempDir(), "narwhal.db"))
	old, err := s.CreateJob(ctx, newJob("old"))
	if err != nil {
		t.Fatal(err)
	}
	if old, err = s.UpdateJob(ctx, old); err != nil {
		t.Fatal(err)
	}
	stale := old
	stale.Version = 1
	release := holdWriter(t, s)
	const fresh = 20
	errs := make([]error, fresh+2)
	var wg sync.WaitGroup
	for i := range fresh {
		wg.Go(func() { _, errs[i] = s.CreateJob(ctx, newJob(fmt.Sprintf("new-%d", i))) })
	}
	wg.Go(func() { _, errs[fresh] = s.CreateJob(ctx, newJob("old")) })
	wg.Go(func() { _, errs[fresh+1] = s.UpdateJob(ctx, stale) })
	waitQueued(t, s, fresh+2)
	release()
	wg.Wait()
	for i := range fresh {
		if errs[i] != nil {
			t.Errorf("create new-%d: %v", i, errs[i])
		}
		if _, err := s.GetJob(ctx, fmt.Sprintf("new-%d", i)); err != nil {
			t.Errorf("get new-%d: %v", i, err)
		}
	}
	if !errors.Is(errs[fresh], ci.ErrExists) {
		t.Errorf("create of an existing ID: %v, want ErrExists", errs[fresh])
	}
	if !errors.Is(errs[fresh+1], ci.ErrConflict) {
		t.Errorf("stale update: %v, want ErrConflict", errs[fresh+1])
	}
}

// A write that fails with an error of its own (not a conditional miss)
// rolls the batch back; the batch's other writes are written again one by
// one and succeed, and the failed one leaves nothing behind.
func TestGroupCommitFailureIsolated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openExclusive(t, filepath.Join(t.TempDir(), "narwhal.db"))
	release := holdWriter(t, s)
	boom := errors.New("boom")
	var wg sync.WaitGroup
	var failed error
	var thenRan atomic.Bool
	wg.Go(func() {
		failed = s.writes.writeThen(ctx, func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.StmtContext(ctx, s.st.putRunner).ExecContext(ctx, "bad", nil, `{"id":"bad"}`); err != nil {
				return err
			}
			return boom
		}, func() { thenRan.Store(true) })
	})
	waitQueued(t, s, 1)
	errs := make([]error, 5)
	for i := range errs {
		wg.Go(func() { errs[i] = s.PutRunner(ctx, ci.Runner{ID: fmt.Sprintf("r-%d", i), Capacity: 1}) })
	}
	waitQueued(t, s, 6)
	release()
	wg.Wait()
	if !errors.Is(failed, boom) {
		t.Errorf("failing write: %v, want boom", failed)
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("put r-%d: %v", i, err)
		}
	}
	runners, err := s.ListRunners(ctx)
	if err != nil || len(runners) != len(errs) {
		t.Fatalf("ListRunners = %d runners, %v; want %d, without the failed one", len(runners), err, len(errs))
	}
	// The cache of the exclusive store agrees: each write that committed
	// alone was put, the failed one was not.
	if thenRan.Load() {
		t.Error("the failed write's then ran")
	}
	for i := range errs {
		if _, ok := s.runners.get(fmt.Sprintf("r-%d", i)); !ok {
			t.Errorf("r-%d is not cached after its write committed", i)
		}
	}
	if _, err := s.GetRunner(ctx, "bad"); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("GetRunner(bad) = %v; want ErrNotFound", err)
	}
}

// A write whose context ends while it is queued is not written.
func TestGroupCommitCancelledWhileQueued(t *testing.T) {
	t.Parallel()
	s := openT(t, filepath.Join(t.TempDir(), "narwhal.db"))
	release := holdWriter(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	var err error
	done := make(chan struct{})
	go func() { defer close(done); _, err = s.CreateJob(ctx, newJob("gone")) }()
	waitQueued(t, s, 1)
	cancel()
	release()
	<-done
	if !errors.Is(err, context.Canceled) {
		t.Errorf("CreateJob = %v, want context.Canceled", err)
	}
	if _, err := s.GetJob(context.Background(), "gone"); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("GetJob = %v, want ErrNotFound", err)
	}
}

// Close runs the writes already queued before it stops the writer.
func TestGroupCommitCloseDrains(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "narwhal.db")
	s := openT(t, path)
	release := holdWriter(t, s)
	var err error
	done := make(chan struct{})
	go func() { defer close(done); _, err = s.CreateJob(context.Background(), newJob("last")) }()
	waitQueued(t, s, 1)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	release()
	<-done
	if cerr := <-closed; err != nil || cerr != nil {
		t.Fatalf("CreateJob = %v, Close = %v", err, cerr)
	}
	if _, err := openT(t, path).GetJob(context.Background(), "last"); err != nil {
		t.Fatalf("after reopening: %v", err)
	}
}

// An update that changes the job's branch (not only its state) moves it in
// the listings by branch too.
func TestUpdateBranchMovesTheColumns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openT(t, filepath.Join(t.TempDir(), "narwhal.db"))
	j, err := s.CreateJob(ctx, newJob("moved"))
	if err != nil {
		t.Fatal(err)
	}
	j.Branch = "dev"
	if _, err := s.UpdateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	for branch, want := range map[string]int{"dev": 1, "main": 0} {
		page, err := s.ListJobs(ctx, ci.JobFilter{Branch: branch})
		if err != nil || len(page.Jobs) != want {
			t.Errorf("branch %s: %d jobs, %v; want %d", branch, len(page.Jobs), err, want)
		}
	}
}
