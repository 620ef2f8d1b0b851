package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// testNumbers: each repository numbers its jobs 1, 2, 3, ... at creation,
// whatever number the caller gave; a duplicate takes none; an update keeps
// the number; concurrent creates get distinct numbers; and ListJobs finds a
// job by repository and number.
func testNumbers(t *testing.T, s ci.Store) {
	ctx := context.Background()
	a1 := create(t, s, newJob("a1", "acme/app", "main", ci.StatusQueued, at(1)))
	b1 := create(t, s, newJob("b1", "acme/lib", "main", ci.StatusQueued, at(2)))
	given := newJob("a2", "acme/app", "main", ci.StatusQueued, at(3))
	given.Number = 99
	a2 := create(t, s, given)
	if _, err := s.CreateJob(ctx, newJob("a2", "acme/app", "main", ci.StatusQueued, at(4))); !errors.Is(err, ci.ErrExists) {
		t.Fatalf("duplicate create: %v", err)
	}
	a3 := create(t, s, newJob("a3", "acme/app", "dev", ci.StatusQueued, at(5)))
	for _, c := range []struct {
		j    ci.Job
		want int
	}{{a1, 1}, {b1, 1}, {a2, 2}, {a3, 3}} {
		if c.j.Number != c.want || get(t, s, c.j.ID).Number != c.want {
			t.Errorf("job %s of %s: number %d (stored %d), want %d", c.j.ID, c.j.Repo, c.j.Number, get(t, s, c.j.ID).Number, c.want)
		}
	}
	if _, err := ci.Update(ctx, s, "a2", func(j *ci.Job) error { return j.Move(ci.StatusAssigned) }); err != nil {
		t.Fatal(err)
	}
	if got := get(t, s, "a2").Number; got != 2 {
		t.Errorf("after an update a2 is #%d, want #2", got)
	}
	page, err := s.ListJobs(ctx, ci.JobFilter{Repo: "acme/app", Number: 2, Limit: 10})
	if err != nil || !slices.Equal(ids(page.Jobs), []string{"a2"}) {
		t.Errorf("ListJobs(acme/app #2) = %v, %v", ids(page.Jobs), err)
	}
	testNumbersConcurrent(t, s)
}

// testNumbersConcurrent creates 16 jobs of one repository at once: their
// numbers are 1..16, each once.
func testNumbersConcurrent(t *testing.T, s ci.Store) {
	var mu sync.Mutex
	var got []int
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j, err := s.CreateJob(context.Background(), newJob(fmt.Sprintf("c%02d", i), "acme/busy", "main", ci.StatusQueued, at(i)))
			if err != nil {
				t.Errorf("CreateJob: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			got = append(got, j.Number)
		}()
	}
	wg.Wait()
	slices.Sort(got)
	for i, n := range got {
		if n != i+1 {
			t.Fatalf("numbers of concurrent creates %v, want 1..16", got)
		}
	}
}
