package devstack

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/narwhal-ci/narwhal/internal/apiclient"

	"github.com/narwhal-ci/narwhal/internal/github"
)

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

// Client returns a REST API client of the stack, with its token.
func (s *Stack) Client() (*apiclient.Client, error) {
	return apiclient.New(s.info.APIURL, s.sec.apiToken, "narwhal-dev")
}
