// Package storetest is the contract suite of ci.Store: every implementation
// runs Run against fresh stores, so that they all behave alike.
//
// What the suite pins down beyond the ci.Store comment:
//   - Times round-trip exactly, to the nanosecond, and come back in UTC.
//   - nil and empty slices are not told apart (both may come back as nil).
//   - CreateJob and UpdateJob refuse an empty ID or an invalid Status.
//   - ListJobs cursors stay valid while jobs change; a job whose status moves
//     leaves the listing by its old status and joins the one by its new status.
//   - ListUnpublished's "before" is strict, and its limit follows ListJobs'
//     rule (0 means 50, capped at 200).
//   - DeleteRunner of an unknown ID is not an error; a runner whose ExpiresAt
//     has passed is gone for GetRunner and ListRunners.
//   - Every method returns an error matching context.Canceled when ctx is
//     cancelled.
//   - Build numbers are per repository, from 1, with no gap for a duplicate.
package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// Run runs the contract suite. newStore must return an empty store for one
// subtest and arrange its cleanup with t.Cleanup; it is called once per
// subtest, from parallel subtests.
func Run(t *testing.T, newStore func(t *testing.T) ci.Store) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s ci.Store)
	}{
		{"CreateGetRoundTrip", testRoundTrip},
		{"CreateDefaults", testCreateDefaults},
		{"CreateInvalid", testCreateInvalid},
		{"CreateExists", testCreateExists},
		{"CreateConcurrent", testCreateConcurrent},
		{"GetUnknown", testGetUnknown},
		{"UpdateCAS", testUpdateCAS},
		{"UpdateNoLostUpdate", testUpdateNoLostUpdate},
		{"UpdateIllegalTransition", testUpdateIllegal},
		{"ListOrderAndFilters", testListFilters},
		{"ListPages", testListPages},
		{"ListPagesExact", testListPagesExact},
		{"ListWhileStatusChanges", testListStatusChange},
		{"ListLimit", testListLimit},
		{"ListBadCursor", testListBadCursor},
		{"ListUnpublished", testListUnpublished},
		{"Runners", testRunners},
		{"RunnerExpired", testRunnerExpired},
		{"Cancelled", testCancelled},
		{"BuildNumbers", testNumbers},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, newStore(t))
		})
	}
}

// base is the creation time of fixture jobs; each gets base + i seconds plus
// a few nanoseconds, so that ordering needs the full precision.
var base = time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)

func at(i int) time.Time { return base.Add(time.Duration(i)*time.Second + time.Duration(i%7+1)) }

// newJob is a minimal valid job.
func newJob(id, repo, branch string, status ci.Status, created time.Time) ci.Job {
	return ci.Job{
		ID: id, Repo: repo, Branch: branch, Status: status, Event: ci.EventPush,
		SHA: "sha-" + id, Ref: "refs/heads/" + branch, CloneURL: "https://example.com/" + repo,
		Attempt: 1, CreatedAt: created, UpdatedAt: created,
	}
}

func create(t *testing.T, s ci.Store, j ci.Job) ci.Job {
	t.Helper()
	got, err := s.CreateJob(context.Background(), j)
	if err != nil {
		t.Fatalf("CreateJob(%s): %v", j.ID, err)
	}
	return got
}

func get(t *testing.T, s ci.Store, id string) ci.Job {
	t.Helper()
	got, err := s.GetJob(context.Background(), id)
	if err != nil {
		t.Fatalf("GetJob(%s): %v", id, err)
	}
	return got
}

// createAll creates jobs with a few concurrent workers.
func createAll(t *testing.T, s ci.Store, jobs []ci.Job) {
	t.Helper()
	errs := make(chan error, len(jobs))
	sem := make(chan struct{}, 8)
	for _, j := range jobs {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			_, err := s.CreateJob(context.Background(), j)
			errs <- err
		}()
	}
	for range jobs {
		if err := <-errs; err != nil {
			t.Fatalf("CreateJob: %v", err)
		}
	}
}

// ListIDs returns the IDs of the first page ListJobs gives for f.
func ListIDs(t *testing.T, s ci.Store, f ci.JobFilter) []string {
	t.Helper()
	page, err := s.ListJobs(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return ids(page.Jobs)
}

func ids(jobs []ci.Job) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	return out
}

func sameIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %v\n want %v", what, got, want)
	}
}

func fmtIndex(prefix string, i int) string { return fmt.Sprintf("%s-%03d", prefix, i) }
