package apiclient

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/narwhal-ci/narwhal/internal/api"
	"github.com/narwhal-ci/narwhal/internal/ci"
)

// Jobs lists one page of the jobs f selects (GET /jobs).
func (c *Client) Jobs(ctx context.Context, f ci.JobFilter) (ci.JobPage, error) {
	q := url.Values{}
	for name, v := range map[string]string{"repo": f.Repo, "status": string(f.Status), "branch": f.Branch,
		"id_prefix": f.IDPrefix, "cursor": f.Cursor} {
		if v != "" {
			q.Set(name, v)
		}
	}
	if f.Limit > 0 {
		q.Set("limit", fmt.Sprint(f.Limit))
	}
	if f.Number > 0 {
		q.Set("number", fmt.Sprint(f.Number))
	}
	var page ci.JobPage
	return page, c.call(ctx, http.MethodGet, q, Timeout, &page, "jobs")
}

// Job reads job id (GET /jobs/{id}).
func (c *Client) Job(ctx context.Context, id string) (ci.Job, error) {
	var j ci.Job
	return j, c.call(ctx, http.MethodGet, nil, Timeout, &j, "jobs", id)
}

// Logs reads the job's log from offset (GET /jobs/{id}/logs); with follow the
// server waits (up to about 25 s) for data.
func (c *Client) Logs(ctx context.Context, id string, offset int64, follow bool) (api.LogChunk, error) {
	return c.StepLogs(ctx, id, "", offset, follow)
}

// StepLogs is Logs of one step's lines (all lines when step is "").
func (c *Client) StepLogs(ctx context.Context, id, step string, offset int64, follow bool) (api.LogChunk, error) {
	q, timeout := url.Values{"offset": {fmt.Sprint(offset)}}, Timeout
	if step != "" {
		q.Set("step", step)
	}
	if follow {
		q.Set("follow", "1")
		timeout = FollowTimeout
	}
	var chunk api.LogChunk
	return chunk, c.call(ctx, http.MethodGet, q, timeout, &chunk, "jobs", id, "logs")
}

// Resubmit runs job id again as a new job (POST /jobs/{id}/resubmit).
func (c *Client) Resubmit(ctx context.Context, id string) (ci.Job, error) {
	return c.ResubmitFrom(ctx, id, "")
}

// ResubmitFrom re-runs job id from step fromStep (a whole re-run when "").
func (c *Client) ResubmitFrom(ctx context.Context, id, fromStep string) (ci.Job, error) {
	var in any
	if fromStep != "" {
		in = api.ResubmitBody{FromStep: fromStep}
	}
	var j ci.Job
	return j, c.send(ctx, http.MethodPost, nil, Timeout, in, &j, "jobs", id, "resubmit")
}

// Cancel stops job id (POST /jobs/{id}/cancel).
func (c *Client) Cancel(ctx context.Context, id string) (ci.Job, error) {
	var j ci.Job
	return j, c.call(ctx, http.MethodPost, nil, Timeout, &j, "jobs", id, "cancel")
}

// Runners lists the registered runners (GET /runners).
func (c *Client) Runners(ctx context.Context) ([]ci.Runner, error) {
	var list api.RunnerList
	return list.Runners, c.call(ctx, http.MethodGet, nil, Timeout, &list, "runners")
}

// Drain asks runner id to stop taking jobs (POST /runners/{id}/drain).
func (c *Client) Drain(ctx context.Context, id string) (api.DrainBody, error) {
	var d api.DrainBody
	return d, c.call(ctx, http.MethodPost, nil, Timeout, &d, "runners", id, "drain")
}
