package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/narwhal-ci/narwhal/internal/apiclient"

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
	ans, err := apiclient.SendWebhook(ctx, apiclient.Webhook{URL: s.info.WebhookURL, Event: "push",
		Secret: s.sec.webhookSecret, UserAgent: "narwhal-dev"}, body)
	if err != nil {
		return "", err
	}
	var answer struct {
		JobID string `json:"job_id"`
		Error string `json:"error"`
	}
	json.Unmarshal(ans.Body, &answer)
	if ans.Status/100 != 2 || answer.JobID == "" {
		return "", fmt.Errorf("send webhook: agent answered %d %s", ans.Status, answer.Error)
	}
	return answer.JobID, nil
}

// Follow prints the progress of job id to out through the REST API, the way
// the dashboard sees it: each status change, the log as it is written, and a
// summary of the steps at the end. It returns the job once it is final.
func (s *Stack) Follow(ctx context.Context, id string, out io.Writer) (ci.Job, error) {
	c, err := apiclient.New(s.info.APIURL, s.sec.apiToken, "narwhal-dev")
	if err != nil {
		return ci.Job{}, err
	}
	var last ci.Status
	var offset int64
	for {
		j, err := c.Job(ctx, id)
		if err != nil {
			return ci.Job{}, err
		}
		if j.Status != last {
			fmt.Fprintf(out, "job %s: %s%s\n", short(j.ID), j.Status, statusNote(j))
			last = j.Status
		}
		chunk, err := c.Logs(ctx, id, offset, false)
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
