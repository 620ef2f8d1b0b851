package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/store"
)

type jobGetter interface {
	GetJob(ctx context.Context, id string) (ci.Job, error)
}

type jobLister interface {
	ListJobs(ctx context.Context, f ci.JobFilter) (ci.JobPage, error)
}

// listJobs is GET /jobs?repo=&status=&branch=&id_prefix=&number=&limit=&cursor=: one page of
// jobs, newest first, as a JobPageView ("jobs": [] rather than null).
func listJobs(jobs jobLister) http.Handler {
	return apiFunc(func(r *http.Request) (reply, error) {
		f, err := jobFilter(r.URL.RawQuery)
		if err != nil {
			return reply{}, err
		}
		page, err := jobs.ListJobs(r.Context(), f)
		if errors.Is(err, store.ErrBadCursor) {
			return reply{}, fail(http.StatusBadRequest, "bad cursor: pass the cursor of a previous page unchanged", err)
		}
		if err != nil {
			return reply{}, failure("list jobs", err)
		}
		return reply{status: http.StatusOK, body: viewPage(page, time.Now())}, nil
	})
}

// jobFilter reads the query of GET /jobs.
func jobFilter(raw string) (ci.JobFilter, error) {
	q, err := parseQuery(raw, "repo", "status", "branch", "id_prefix", "number", "limit", "cursor")
	if err != nil {
		return ci.JobFilter{}, err
	}
	limit, err := q.intIn("limit", store.DefaultLimit, 1, store.MaxLimit)
	if err != nil {
		return ci.JobFilter{}, err
	}
	number, err := q.intIn("number", 0, 1, math.MaxInt32)
	if err != nil {
		return ci.JobFilter{}, err
	}
	f := ci.JobFilter{Repo: q.str("repo"), Status: ci.Status(q.str("status")), Branch: q.str("branch"),
		IDPrefix: q.str("id_prefix"), Number: int(number), Limit: int(limit), Cursor: q.str("cursor")}
	switch {
	case f.Status != "" && !f.Status.Valid():
		return ci.JobFilter{}, fail(http.StatusBadRequest,
			fmt.Sprintf("unknown status %q: want one of %s", f.Status, statusList()), nil)
	case f.Number > 0 && f.Repo == "":
		return ci.JobFilter{}, fail(http.StatusBadRequest, "number needs repo: a build number counts within its repository", nil)
	case f.IDPrefix != "" && !ci.ValidJobID(f.IDPrefix):
		return ci.JobFilter{}, fail(http.StatusBadRequest,
			fmt.Sprintf("id_prefix %q: a job ID has letters, digits, '.', '_' and '-' only", f.IDPrefix), nil)
	}
	return f, nil
}

func statusList() string {
	names := make([]string, len(ci.Statuses))
	for i, s := range ci.Statuses {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// getJob is GET /jobs/{id}: the job with its steps, runner, attempt, waiting
// reason and parent, as a JobView.
func getJob(jobs jobGetter) http.Handler {
	return apiFunc(func(r *http.Request) (reply, error) {
		id := r.PathValue("id")
		if err := noQuery(r); err != nil {
			return reply{}, err
		}
		j, err := jobs.GetJob(r.Context(), id)
		if err != nil {
			return reply{}, failure("job "+id, err)
		}
		return reply{status: http.StatusOK, body: viewJob(j, time.Now())}, nil
	})
}

// noQuery rejects query parameters on endpoints that take none.
func noQuery(r *http.Request) error {
	_, err := parseQuery(r.URL.RawQuery)
	return err
}
