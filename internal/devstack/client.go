package devstack

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/narwhal-ci/narwhal/internal/api"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/github"
)

// followPoll is how often Follow asks the API for news.
const followPoll = 500 * time.Millisecond

// Trigger sends a push webhook for c to the stack's webhook endpoint, signed
// with its secret, as GitHub would, and returns the ID of the job it made (or
// found, for a commit seen before).
func (s *Stack) Trigger(ctx context.Context, c github.Commit) (string, error) {
	body, err := github.PushPayload(c)
	if err != nil {
		return "", fmt.Errorf("webhook payload: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.info.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", newGUID())
	req.Header.Set(github.SignatureHeader, github.Sign(body, []byte(s.sec.webhookSecret)))
	var answer struct {
		JobID string `json:"job_id"`
		Error string `json:"error"`
	}
	status, err := doJSON(req, &answer)
	if err != nil {
		return "", fmt.Errorf("send webhook: %w", err)
	}
	if status/100 != 2 || answer.JobID == "" {
		return "", fmt.Errorf("send webhook: agent answered %d %s", status, answer.Error)
	}
	return answer.JobID, nil
}

// Follow prints the progress of job id to out through the REST API, the way
// the dashboard sees it: each status change, the log as it is written, and a
// summary of the steps at the end. It returns the job once it is final.
func (s *Stack) Follow(ctx context.Context, id string, out io.Writer) (ci.Job, error) {
	c := apiClient{base: s.info.APIURL, token: s.sec.apiToken}
	var last ci.Status
	var offset int64
	for {
		j, err := c.job(ctx, id)
		if err != nil {
			return ci.Job{}, err
		}
		if j.Status != last {
			fmt.Fprintf(out, "job %s: %s%s\n", short(j.ID), j.Status, statusNote(j))
			last = j.Status
		}
		chunk, err := c.logs(ctx, id, offset)
		if err != nil {
			return ci.Job{}, err
		}
		io.WriteString(out, indent(chunk.Data))
		offset = chunk.Offset
		if j.Status.Final() && (chunk.Complete || chunk.Data == "") {
			printSteps(out, j)
			return j, nil
		}
		select {
		case <-ctx.Done():
			return ci.Job{}, context.Cause(ctx)
		case <-time.After(followPoll):
		}
	}
}

func statusNote(j ci.Job) string {
	switch {
	case j.Error != "":
		return ": " + j.Error
	case j.RunnerID != "" && (j.Status == ci.StatusAssigned || j.Status == ci.StatusRunning):
		return " on " + j.RunnerID
	case j.Waiting != "":
		return " (" + j.Waiting + ")"
	}
	return ""
}

// printSteps prints one line per step: status, exit code, duration.
func printSteps(out io.Writer, j ci.Job) {
	for _, st := range j.Steps {
		took := ""
		if !st.StartedAt.IsZero() && !st.FinishedAt.IsZero() {
			took = st.FinishedAt.Sub(st.StartedAt).Round(10 * time.Millisecond).String()
		}
		fmt.Fprintf(out, "  %-12s %-10s exit %-3d %s\n", st.Name, st.Status, st.ExitCode, took)
	}
	if !j.StartedAt.IsZero() && !j.FinishedAt.IsZero() {
		fmt.Fprintf(out, "job %s: %s in %s\n", short(j.ID), j.Status, j.FinishedAt.Sub(j.StartedAt).Round(10*time.Millisecond))
	}
}

func indent(log string) string {
	if log == "" {
		return ""
	}
	return "  " + strings.ReplaceAll(strings.TrimSuffix(log, "\n"), "\n", "\n  ") + "\n"
}

func short(id string) string { return id[:min(len(id), 10)] }

// apiClient calls the stack's REST API with its token.
type apiClient struct{ base, token string }

func (c apiClient) job(ctx context.Context, id string) (ci.Job, error) {
	var j ci.Job
	err := c.get(ctx, "/jobs/"+url.PathEscape(id), &j)
	return j, err
}

func (c apiClient) logs(ctx context.Context, id string, offset int64) (api.LogChunk, error) {
	var chunk api.LogChunk
	err := c.get(ctx, fmt.Sprintf("/jobs/%s/logs?offset=%d", url.PathEscape(id), offset), &chunk)
	return chunk, err
}

func (c apiClient) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	status, err := doJSON(req, v)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", path, status)
	}
	return nil
}

// doJSON sends req and decodes the JSON answer into v.
func doJSON(req *http.Request, v any) (int, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return resp.StatusCode, fmt.Errorf("status %d, answer is not JSON: %.200s", resp.StatusCode, data)
	}
	return resp.StatusCode, nil
}

// newGUID returns a random version 4 UUID, like GitHub's delivery IDs.
func newGUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
