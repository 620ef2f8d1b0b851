package storetest

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

var (
	fixtureRepos    = []string{"a/x", "b/y", "c/z"}
	fixtureStatuses = []ci.Status{ci.StatusQueued, ci.StatusRunning, ci.StatusSuccess, ci.StatusFailure}
	fixtureBranches = []string{"main", "dev"}
)

// listFixture is 30 jobs spread over repos, statuses and branches, plus two
// created in the same nanosecond as job-015, so that the ID breaks the tie.
func listFixture() []ci.Job {
	var jobs []ci.Job
	for i := range 30 {
		jobs = append(jobs, newJob(fmtIndex("job", i), fixtureRepos[i%3], fixtureBranches[(i/3)%2], fixtureStatuses[i%4], at(i)))
	}
	jobs = append(jobs,
		newJob("job-015a", "a/x", "main", ci.StatusQueued, at(15)),
		newJob("job-015b", "a/x", "main", ci.StatusQueued, at(15)))
	return jobs
}

// expect is the reference ListJobs: filter, then newest first, ties by ID.
func expect(jobs []ci.Job, f ci.JobFilter) []string {
	var out []ci.Job
	for _, j := range jobs {
		if (f.Repo == "" || j.Repo == f.Repo) && (f.Status == "" || j.Status == f.Status) &&
			(f.Branch == "" || j.Branch == f.Branch) && strings.HasPrefix(j.ID, f.IDPrefix) {
			out = append(out, j)
		}
	}
	slices.SortFunc(out, func(a, b ci.Job) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
	})
	return ids(out)
}

// walk follows the cursors of f from its first page to the last and returns
// the pages.
func walk(t *testing.T, s ci.Store, f ci.JobFilter) [][]ci.Job {
	t.Helper()
	var pages [][]ci.Job
	for range 100 {
		page, err := s.ListJobs(context.Background(), f)
		if err != nil {
			t.Fatalf("ListJobs(%+v): %v", f, err)
		}
		if f.Limit > 0 && len(page.Jobs) > f.Limit {
			t.Errorf("ListJobs(%+v) returned %d jobs, more than the limit", f, len(page.Jobs))
		}
		pages = append(pages, page.Jobs)
		if page.Cursor == "" {
			return pages
		}
		f.Cursor = page.Cursor
	}
	t.Fatalf("ListJobs(%+v): still a cursor after 100 pages", f)
	return nil
}

func flatten(pages [][]ci.Job) []string {
	var out []string
	for _, p := range pages {
		out = append(out, ids(p)...)
	}
	return out
}

func pageSizes(pages [][]ci.Job) []int {
	out := make([]int, len(pages))
	for i, p := range pages {
		out[i] = len(p)
	}
	return out
}

func testListFilters(t *testing.T, s ci.Store) {
	jobs := listFixture()
	createAll(t, s, jobs)
	for _, f := range []ci.JobFilter{
		{}, {Repo: "a/x"}, {Status: ci.StatusQueued}, {Repo: "a/x", Status: ci.StatusQueued},
		{Branch: "main"}, {Repo: "b/y", Branch: "dev"}, {Status: ci.StatusRunning, Branch: "dev"},
		{Repo: "a/x", Status: ci.StatusQueued, Branch: "main"},
		{Repo: "nobody/none"}, {Status: ci.StatusCancelled}, {Branch: "no-such-branch"},
		{IDPrefix: "job-015"}, {IDPrefix: "job-01", Repo: "a/x"}, {IDPrefix: "job-02", Branch: "main"},
		{IDPrefix: "job-0151"}, {IDPrefix: "job-"}, {IDPrefix: "no-such-id"},
	} {
		f.Limit = 200
		page, err := s.ListJobs(context.Background(), f)
		if err != nil {
			t.Fatalf("ListJobs(%+v): %v", f, err)
		}
		sameIDs(t, "ListJobs("+describe(f)+")", ids(page.Jobs), expect(jobs, f))
		if page.Cursor != "" {
			t.Errorf("ListJobs(%s): cursor %q on the only page", describe(f), page.Cursor)
		}
	}
	page, err := s.ListJobs(context.Background(), ci.JobFilter{Repo: "c/z", Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range page.Jobs {
		sameJob(t, "listed job "+j.ID, j, get(t, s, j.ID))
	}
}

func describe(f ci.JobFilter) string {
	return "repo=" + f.Repo + " status=" + string(f.Status) + " branch=" + f.Branch + " id_prefix=" + f.IDPrefix
}

func testListPages(t *testing.T, s ci.Store) {
	jobs := listFixture()
	createAll(t, s, jobs)
	for _, c := range []struct {
		f     ci.JobFilter
		sizes []int // nil: only the union is checked (a branch filter may give short pages)
	}{
		{ci.JobFilter{Limit: 12}, []int{12, 12, 8}},
		{ci.JobFilter{Repo: "a/x", Limit: 4}, []int{4, 4, 4}},
		{ci.JobFilter{Status: ci.StatusQueued, Limit: 4}, []int{4, 4, 2}},
		{ci.JobFilter{Repo: "a/x", Status: ci.StatusQueued, Limit: 2}, []int{2, 2, 1}},
		{ci.JobFilter{Status: ci.StatusQueued, Branch: "main", Limit: 3}, nil},
		{ci.JobFilter{Branch: "dev", Limit: 5}, nil},
	} {
		pages := walk(t, s, c.f)
		sameIDs(t, "pages of "+describe(c.f), flatten(pages), expect(jobs, c.f))
		if c.sizes != nil && !slices.Equal(pageSizes(pages), c.sizes) {
			t.Errorf("page sizes of %s = %v, want %v", describe(c.f), pageSizes(pages), c.sizes)
		}
	}
}

func testListPagesExact(t *testing.T, s ci.Store) {
	var jobs []ci.Job
	for i := range 6 {
		jobs = append(jobs, newJob(fmtIndex("job", i), "a/x", "main", ci.StatusQueued, at(i)))
	}
	createAll(t, s, jobs)
	for limit, sizes := range map[int][]int{3: {3, 3}, 6: {6}, 7: {6}, 1: {1, 1, 1, 1, 1, 1}} {
		for _, f := range []ci.JobFilter{{Limit: limit}, {Repo: "a/x", Limit: limit}, {Status: ci.StatusQueued, Limit: limit}} {
			pages := walk(t, s, f)
			sameIDs(t, "pages of "+describe(f), flatten(pages), expect(jobs, f))
			if !slices.Equal(pageSizes(pages), sizes) {
				t.Errorf("limit %d %s: page sizes %v, want %v", limit, describe(f), pageSizes(pages), sizes)
			}
		}
	}
}

func testListStatusChange(t *testing.T, s ci.Store) {
	ctx := context.Background()
	var jobs []ci.Job
	for i := range 10 {
		jobs = append(jobs, newJob(fmtIndex("q", i), "a/x", "main", ci.StatusQueued, at(i)))
	}
	createAll(t, s, jobs)
	f := ci.JobFilter{Status: ci.StatusQueued, Limit: 3}
	first, err := s.ListJobs(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "first page", ids(first.Jobs), []string{"q-009", "q-008", "q-007"})
	for _, id := range []string{"q-007", "q-004"} { // the cursor's own job, and one further on
		if _, err := ci.Update(ctx, s, id, func(j *ci.Job) error { return j.Move(ci.StatusAssigned) }); err != nil {
			t.Fatal(err)
		}
	}
	create(t, s, newJob("q-new", "a/x", "main", ci.StatusQueued, at(50)))
	create(t, s, newJob("q-mid", "a/x", "main", ci.StatusQueued, at(5).Add(500*time.Millisecond)))

	f.Cursor = first.Cursor
	want := []string{"q-006", "q-mid", "q-005", "q-003", "q-002", "q-001", "q-000"}
	sameIDs(t, "rest of the queued listing", flatten(walk(t, s, f)), want)
	f2 := ci.JobFilter{Repo: "a/x", Status: ci.StatusQueued, Limit: 3, Cursor: first.Cursor}
	sameIDs(t, "rest of the repo+queued listing", flatten(walk(t, s, f2)), want)
	assigned := walk(t, s, ci.JobFilter{Status: ci.StatusAssigned})
	sameIDs(t, "assigned listing", flatten(assigned), []string{"q-007", "q-004"})
}

func testListLimit(t *testing.T, s ci.Store) {
	var jobs []ci.Job
	for i := range 210 {
		jobs = append(jobs, newJob(fmtIndex("job", i), "a/x", "main", ci.StatusQueued, at(i)))
	}
	createAll(t, s, jobs)
	all := expect(jobs, ci.JobFilter{})
	for _, c := range []struct {
		limit, want int
	}{{0, 50}, {-3, 50}, {1000, 200}, {200, 200}} {
		page, err := s.ListJobs(context.Background(), ci.JobFilter{Limit: c.limit})
		if err != nil {
			t.Fatal(err)
		}
		sameIDs(t, "first page", ids(page.Jobs), all[:c.want])
		if page.Cursor == "" {
			t.Errorf("Limit %d: no cursor, want one", c.limit)
		}
	}
	pages := walk(t, s, ci.JobFilter{Limit: 1000})
	if got := pageSizes(pages); !slices.Equal(got, []int{200, 10}) {
		t.Errorf("page sizes with Limit 1000 = %v, want [200 10]", got)
	}
	sameIDs(t, "all pages", flatten(pages), all)
}

func testListBadCursor(t *testing.T, s ci.Store) {
	create(t, s, newJob("job-1", "a/x", "main", ci.StatusQueued, at(1)))
	for _, c := range []string{"!!not-base64!!", "Z2FyYmFnZQ", "MjAzMS0wMy0wNA"} {
		if _, err := s.ListJobs(context.Background(), ci.JobFilter{Cursor: c}); err == nil {
			t.Errorf("ListJobs with cursor %q: no error", c)
		}
	}
}
