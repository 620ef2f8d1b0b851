package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// fullJob sets every field, with times in a zone other than UTC and with
// nanoseconds, so that a lossy mapping shows.
func fullJob(id string) ci.Job {
	zone := time.FixedZone("X", 5*3600+1800)
	t0 := time.Date(2031, 1, 2, 3, 4, 5, 123456789, zone)
	return ci.Job{
		ID: id, Repo: "octo/hello", CloneURL: "https://github.com/octo/hello.git",
		SHA: "0123456789abcdef0123456789abcdef01234567", Ref: "refs/pull/7/head", Branch: "main",
		Event: ci.EventPullRequest, PR: 7, Fork: true, Author: "octocat", Message: "fix: ünïcode ✓\nsecond line",
		Deliveries: []string{"d-1", "d-2"}, Labels: []string{"linux", "docker"},
		Status: ci.StatusRunning, Attempt: 3, ParentID: "parent-1", Published: true,
		Waiting: "no runner with labels linux", RunnerID: "runner-9", Error: "none yet",
		Steps: []ci.Step{
			{Name: "build", Status: "success", ExitCode: 0, StartedAt: t0.Add(time.Second), FinishedAt: t0.Add(2*time.Second + 1)},
			{Name: "test", Status: "failure", ExitCode: 2, StartedAt: t0.Add(3 * time.Second)},
			{Name: "deploy", Status: "pending"},
		},
		CreatedAt: t0, UpdatedAt: t0.Add(time.Millisecond + 7),
		StartedAt: t0.Add(time.Second), FinishedAt: t0.Add(time.Hour + 999),
	}
}

func testRoundTrip(t *testing.T, s ci.Store) {
	want := fullJob("job-full")
	got := create(t, s, want)
	want.Version, want.Number = 1, 1 // the first of its repository
	sameJob(t, "CreateJob result", got, want)
	sameJob(t, "GetJob", get(t, s, want.ID), want)

	bare := newJob("job-bare", "octo/bare", "dev", ci.StatusQueued, at(1))
	bare.Deliveries, bare.Labels, bare.Steps = []string{}, nil, []ci.Step{}
	create(t, s, bare)
	bare.Version, bare.Number = 1, 1
	sameJob(t, "GetJob of a job with empty slices", get(t, s, bare.ID), bare)
}

func testCreateDefaults(t *testing.T, s ci.Store) {
	j := newJob("job-defaults", "octo/hello", "main", ci.StatusQueued, time.Time{})
	j.UpdatedAt, j.Version = time.Time{}, 9
	before := time.Now()
	got := create(t, s, j)
	after := time.Now()
	if got.Version != 1 {
		t.Errorf("Version = %d, want 1", got.Version)
	}
	for name, tm := range map[string]time.Time{"CreatedAt": got.CreatedAt, "UpdatedAt": got.UpdatedAt} {
		if tm.Before(before.Truncate(time.Millisecond)) || tm.After(after) {
			t.Errorf("%s = %v, want between %v and %v", name, tm, before, after)
		}
	}
	sameJob(t, "GetJob", get(t, s, j.ID), got)
}

func testCreateInvalid(t *testing.T, s ci.Store) {
	ctx := context.Background()
	for name, j := range map[string]ci.Job{
		"empty ID":       newJob("", "octo/hello", "main", ci.StatusQueued, at(0)),
		"empty status":   newJob("job-nostatus", "octo/hello", "main", "", at(0)),
		"unknown status": newJob("job-badstatus", "octo/hello", "main", "bogus", at(0)),
	} {
		if _, err := s.CreateJob(ctx, j); err == nil || errors.Is(err, ci.ErrExists) {
			t.Errorf("CreateJob with %s: err = %v, want a validation error", name, err)
		}
	}
	stored := create(t, s, newJob("job-ok", "octo/hello", "main", ci.StatusQueued, at(0)))
	bad := stored
	bad.Status = "bogus"
	if _, err := s.UpdateJob(ctx, bad); err == nil {
		t.Error("UpdateJob with an unknown status succeeded")
	}
	sameJob(t, "job after a refused update", get(t, s, stored.ID), stored)
}

func testCreateExists(t *testing.T, s ci.Store) {
	orig := create(t, s, fullJob("job-dup"))
	other := newJob("job-dup", "octo/other", "dev", ci.StatusQueued, at(5))
	other.Author = "mallory"
	if _, err := s.CreateJob(context.Background(), other); !errors.Is(err, ci.ErrExists) {
		t.Fatalf("second CreateJob: err = %v, want ErrExists", err)
	}
	sameJob(t, "job after the refused create", get(t, s, "job-dup"), orig)
}

func testCreateConcurrent(t *testing.T, s ci.Store) {
	const n = 50
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		results = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			j := newJob("job-race", "octo/hello", "main", ci.StatusQueued, at(0))
			j.Author = fmt.Sprintf("author-%d", i)
			<-start
			_, results[i] = s.CreateJob(context.Background(), j)
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range results {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("creates %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, ci.ErrExists):
			t.Errorf("create %d: err = %v, want ErrExists", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no create succeeded")
	}
	if got := get(t, s, "job-race"); got.Author != fmt.Sprintf("author-%d", winner) || got.Version != 1 {
		t.Errorf("stored Author %q Version %d, want the winner's (author-%d), 1", got.Author, got.Version, winner)
	}
}

func testGetUnknown(t *testing.T, s ci.Store) {
	if _, err := s.GetJob(context.Background(), "no-such-job"); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("GetJob(unknown): err = %v, want ErrNotFound", err)
	}
}

func testUpdateCAS(t *testing.T, s ci.Store) {
	ctx := context.Background()
	v1 := create(t, s, fullJob("job-cas"))
	change := v1
	change.Status, change.RunnerID = ci.StatusSuccess, "runner-2"
	change.Steps = append(slices.Clone(change.Steps), ci.Step{Name: "extra", Status: "skipped"})
	before := time.Now()
	v2, err := s.UpdateJob(ctx, change)
	if err != nil {
		t.Fatalf("UpdateJob: %v", err)
	}
	if v2.Version != 2 || v2.UpdatedAt.Before(before.Truncate(time.Millisecond)) {
		t.Errorf("UpdateJob: Version %d UpdatedAt %v, want 2 and not before %v", v2.Version, v2.UpdatedAt, before)
	}
	want := change
	want.Version, want.UpdatedAt = 2, v2.UpdatedAt
	sameJob(t, "UpdateJob result", v2, want)
	sameJob(t, "GetJob after update", get(t, s, v1.ID), want)

	stale := v1
	stale.Status = ci.StatusCancelled
	if _, err := s.UpdateJob(ctx, stale); !errors.Is(err, ci.ErrConflict) {
		t.Errorf("UpdateJob with a stale version: err = %v, want ErrConflict", err)
	}
	sameJob(t, "job after the stale update", get(t, s, v1.ID), want)

	ghost := newJob("job-ghost", "octo/hello", "main", ci.StatusQueued, at(0))
	ghost.Version = 1
	if _, err := s.UpdateJob(ctx, ghost); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("UpdateJob of an unknown ID: err = %v, want ErrNotFound", err)
	}
	if _, err := s.GetJob(ctx, ghost.ID); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("UpdateJob of an unknown ID created it (GetJob err = %v)", err)
	}
}

func testUpdateNoLostUpdate(t *testing.T, s ci.Store) {
	const n = 20
	create(t, s, newJob("job-hot", "octo/hello", "main", ci.StatusQueued, at(0)))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = ci.Update(ctx, s, "job-hot", func(j *ci.Job) error {
				j.Deliveries = append(j.Deliveries, fmt.Sprintf("d-%02d", i))
				return nil
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Update %d: %v", i, err)
		}
	}
	got := get(t, s, "job-hot")
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("d-%02d", i))
	}
	sameIDs(t, "deliveries", slices.Sorted(slices.Values(got.Deliveries)), want)
	if got.Version != n+1 {
		t.Errorf("Version = %d, want %d", got.Version, n+1)
	}
}

func testUpdateIllegal(t *testing.T, s ci.Store) {
	ctx := context.Background()
	done := create(t, s, newJob("job-done", "octo/hello", "main", ci.StatusSuccess, at(0)))
	_, err := ci.Update(ctx, s, done.ID, func(j *ci.Job) error {
		j.Author = "changed"
		return j.Move(ci.StatusRunning)
	})
	if !errors.Is(err, ci.ErrIllegalTransition) {
		t.Errorf("Update success → running: err = %v, want ErrIllegalTransition", err)
	}
	sameJob(t, "job after the refused transition", get(t, s, done.ID), done)

	create(t, s, newJob("job-legal", "octo/hello", "main", ci.StatusQueued, at(1)))
	got, err := ci.Update(ctx, s, "job-legal", func(j *ci.Job) error { return j.Move(ci.StatusAssigned) })
	if err != nil || got.Status != ci.StatusAssigned || got.Version != 2 {
		t.Errorf("Update queued → assigned: %v, status %s version %d", err, got.Status, got.Version)
	}
}
