package writeback

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/store/sqlite"
	"github.com/narwhal-ci/narwhal/internal/store/storetest"
)

// counting counts the job writes that reach the store beneath.
type counting struct {
	ci.Store
	updates, runnerReads int
}

func (c *counting) UpdateJob(ctx context.Context, j ci.Job) (ci.Job, error) {
	c.updates++
	return c.Store.UpdateJob(ctx, j)
}

func (c *counting) GetRunner(ctx context.Context, id string) (ci.Runner, error) {
	c.runnerReads++
	return c.Store.GetRunner(ctx, id)
}

func open(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "narwhal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Outside a pass the wrapper is the store: the whole contract holds.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) ci.Store { return New(open(t)) })
}

func queued(t *testing.T, s ci.Store, id string) ci.Job {
	t.Helper()
	j, err := s.CreateJob(context.Background(), ci.Job{ID: id, Repo: "acme/app", SHA: "0123456789abcdef0123456789abcdef01234567",
		Event: ci.EventPush, Status: ci.StatusQueued, Attempt: 1})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestPassWritesEachJobOnce(t *testing.T) {
	ctx := context.Background()
	beneath := &counting{Store: open(t)}
	s := New(beneath)
	queued(t, s, "job-1")
	s.Begin()
	for _, st := range []ci.Status{ci.StatusAssigned, ci.StatusRunning, ci.StatusSuccess} {
		if _, err := ci.Update(ctx, s, "job-1", func(j *ci.Job) error { j.Status = st; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := beneath.GetJob(ctx, "job-1"); got.Status != ci.StatusQueued || beneath.updates != 0 {
		t.Fatalf("during the pass the store holds %s after %d writes, want queued and none", got.Status, beneath.updates)
	}
	if j, _ := s.GetJob(ctx, "job-1"); j.Status != ci.StatusSuccess {
		t.Fatalf("the pass reads %s, want its own success", j.Status)
	}
	n, err := s.Flush(ctx)
	got, _ := beneath.GetJob(ctx, "job-1")
	if err != nil || n != 1 || beneath.updates != 1 || got.Status != ci.StatusSuccess || got.Version != 2 {
		t.Fatalf("flush: %d written, %v; store %s v%d after %d writes", n, err, got.Status, got.Version, beneath.updates)
	}
	if _, err := ci.Update(ctx, s, "job-1", func(j *ci.Job) error { j.Branch = "main"; return nil }); err != nil || beneath.updates != 2 {
		t.Fatalf("after the pass a write goes through: %v, %d writes", err, beneath.updates)
	}
}

// A job another process changed during the pass fails the flush; the pass's
// change is not written over it.
func TestFlushConflict(t *testing.T) {
	ctx := context.Background()
	beneath := open(t)
	s := New(beneath)
	queued(t, s, "job-1")
	s.Begin()
	if _, err := ci.Update(ctx, s, "job-1", func(j *ci.Job) error { j.Status = ci.StatusRunning; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := ci.Update(ctx, beneath, "job-1", func(j *ci.Job) error { j.Status = ci.StatusCancelled; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Flush(ctx); !errors.Is(err, ci.ErrConflict) {
		t.Fatalf("flush over another write: %v, want ErrConflict", err)
	}
	if got, _ := beneath.GetJob(ctx, "job-1"); got.Status != ci.StatusCancelled {
		t.Fatalf("store holds %s, want the other write's cancelled", got.Status)
	}
}

func TestDiscardAndRunners(t *testing.T) {
	ctx := context.Background()
	beneath := &counting{Store: open(t)}
	s := New(beneath)
	queued(t, s, "job-1")
	now := time.Now()
	if err := s.PutRunner(ctx, ci.Runner{ID: "r1", Address: "127.0.0.1:1", Capacity: 1, State: ci.RunnerActive,
		LastHeartbeat: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	s.Begin()
	for range 3 {
		if _, err := s.GetRunner(ctx, "r1"); err != nil {
			t.Fatal(err)
		}
	}
	ci.Update(ctx, s, "job-1", func(j *ci.Job) error { j.Status = ci.StatusAssigned; return nil })
	s.Discard()
	if got, _ := beneath.GetJob(ctx, "job-1"); got.Status != ci.StatusQueued || beneath.runnerReads != 1 || beneath.updates != 0 {
		t.Fatalf("after discard: %s, %d runner reads, %d writes; want queued, 1, 0", got.Status, beneath.runnerReads, beneath.updates)
	}
}
