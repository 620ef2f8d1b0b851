package api_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/api"
	"github.com/narwhal-ci/narwhal/internal/ci"
)

func TestListJobsPaginates(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	for n := 1; n <= 7; n++ {
		seedJob(t, r.store, n, nil)
	}
	var ids []string
	cursor, pages := "", 0
	for {
		resp := r.do(t, "GET", "/jobs?limit=3&cursor="+url.QueryEscape(cursor))
		expect(t, resp, http.StatusOK)
		var page ci.JobPage
		resp.decode(t, &page)
		pages++
		for _, j := range page.Jobs {
			ids = append(ids, j.ID)
		}
		if page.Cursor == "" {
			break
		}
		if len(page.Jobs) != 3 || pages > 3 {
			t.Fatalf("page %d: %d jobs with a cursor", pages, len(page.Jobs))
		}
		cursor = page.Cursor
	}
	want := []string{"job07", "job06", "job05", "job04", "job03", "job02", "job01"}
	if pages != 3 || !slices.Equal(ids, want) {
		t.Fatalf("%d pages, ids %v; want 3 pages, %v", pages, ids, want)
	}
}

func TestListJobsFilters(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	seedJob(t, r.store, 1, nil)
	seedJob(t, r.store, 2, func(j *ci.Job) { j.Status = ci.StatusFailure })
	seedJob(t, r.store, 3, func(j *ci.Job) { j.Branch = "dev"; j.Status = ci.StatusFailure })
	seedJob(t, r.store, 4, func(j *ci.Job) { j.Repo = "acme/lib" })
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"job04", "job03", "job02", "job01"}},
		{"repo=acme/lib", []string{"job04"}},
		{"status=failure", []string{"job03", "job02"}},
		{"status=failure&branch=dev", []string{"job03"}},
		{"repo=acme/app&status=queued", []string{"job01"}},
		{"repo=nobody/none", []string{}},
	}
	for _, tt := range tests {
		resp := r.do(t, "GET", "/jobs?"+tt.query)
		expect(t, resp, http.StatusOK)
		var page ci.JobPage
		resp.decode(t, &page)
		if page.Jobs == nil || !slices.Equal(jobIDs(page.Jobs), tt.want) {
			t.Errorf("?%s: %s, want %v", tt.query, resp.body, tt.want)
		}
	}
}

func TestListJobsRejectsBadQueries(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	seedJob(t, r.store, 1, nil)
	tests := []struct{ query, msg string }{
		{"status=bogus", `unknown status "bogus": want one of queued, assigned, running, success, failure, error, cancelled, skipped`},
		{"limit=0", "limit must be an integer from 1 to 200"},
		{"limit=201", "limit must be an integer from 1 to 200"},
		{"limit=ten", "limit must be an integer from 1 to 200"},
		{"cursor=not-a-cursor", "bad cursor: pass the cursor of a previous page unchanged"},
		{"stauts=failure", `unknown query parameter "stauts"`},
		{"repo=a&repo=b", `query parameter "repo" given more than once`},
		{"repo=%zz", "malformed query string"},
	}
	for _, tt := range tests {
		resp := r.do(t, "GET", "/jobs?"+tt.query)
		expect(t, resp, http.StatusBadRequest)
		if got := resp.errorText(t); got != tt.msg {
			t.Errorf("?%s: error %q, want %q", tt.query, got, tt.msg)
		}
	}
}

func TestGetJob(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	started := base.Add(90 * time.Second)
	seedJob(t, r.store, 1, func(j *ci.Job) {
		j.Status, j.Attempt, j.RunnerID, j.ParentID = ci.StatusRunning, 2, "runner-1", "job00"
		j.Waiting, j.StartedAt = "no runner with labels [gpu]", started
		j.Steps = []ci.Step{{Name: "build", Status: "success", StartedAt: started, FinishedAt: started.Add(time.Second)},
			{Name: "test", Status: "running", StartedAt: started.Add(time.Second)}}
	})
	resp := r.do(t, "GET", "/jobs/job01")
	expect(t, resp, http.StatusOK)
	var j ci.Job
	resp.decode(t, &j)
	if j.ID != "job01" || j.Attempt != 2 || j.RunnerID != "runner-1" || j.ParentID != "job00" ||
		j.Waiting == "" || len(j.Steps) != 2 || j.Steps[1].Name != "test" || !j.StartedAt.Equal(started) {
		t.Errorf("job = %+v", j)
	}

	resp = r.do(t, "GET", "/jobs/nope")
	expect(t, resp, http.StatusNotFound)
	if got := resp.errorText(t); got != "job nope not found" {
		t.Errorf("error = %q", got)
	}
	expect(t, r.do(t, "GET", "/jobs/job01?x=1"), http.StatusBadRequest)
}

// brokenStore fails every read, as a store whose backend is down.
type brokenStore struct{}

var errBackend = errors.New("dial tcp 10.0.0.1:443: connection refused")

func (brokenStore) GetJob(context.Context, string) (ci.Job, error) { return ci.Job{}, errBackend }
func (brokenStore) ListJobs(context.Context, ci.JobFilter) (ci.JobPage, error) {
	return ci.JobPage{}, errBackend
}
func (brokenStore) ListRunners(context.Context) ([]ci.Runner, error) { return nil, errBackend }

func TestBackendErrorIs500WithoutDetails(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(d *api.Deps) { d.Jobs, d.Runners = brokenStore{}, brokenStore{} })
	for _, path := range []string{"/jobs", "/jobs/x", "/jobs/x/logs", "/runners", "/stats"} {
		resp := r.do(t, "GET", path)
		expect(t, resp, http.StatusInternalServerError)
		if got := resp.errorText(t); got != "internal error" {
			t.Errorf("%s: error %q leaks or differs", path, got)
		}
	}
	for _, l := range r.log.lines(t) {
		if l["level"] != slog.LevelError.String() || !contains(l["error"].(string), "connection refused") {
			t.Errorf("log line %v: want level ERROR with the cause", l)
		}
	}
}

func jobIDs(jobs []ci.Job) []string {
	ids := []string{}
	for _, j := range jobs {
		ids = append(ids, j.ID)
	}
	return ids
}
