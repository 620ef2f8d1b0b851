package lambdatest

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// TestAgentUnderEmulator runs the agent's bootstrap as Lambda would, with
// DynamoDB and Secrets Manager on moto_server and the test RabbitMQ, and
// sends it the events/ samples and a tampered copy.
func TestAgentUnderEmulator(t *testing.T) {
	testenv.AWSEndpoint(t) // the emulator passes AWS_ENDPOINT_URL etc. on to the function
	s := newServices(t, testenv.AMQPURL(t))
	fn := Start(t, RIE(t), Build(t, "./functions/agent"), Options{Name: "AgentFunction", Env: map[string]string{
		"NARWHAL_TABLE":              s.table,
		"NARWHAL_AMQP_URL":           s.amqpURL,
		"NARWHAL_AMQP_PREFIX":        s.prefix,
		"NARWHAL_WEBHOOK_SECRET_ARN": s.secret(t, "webhook", "narwhal-test-secret"),
	}})
	ctx := context.Background()
	invoke := func(payload []byte) (int, map[string]any) {
		t.Helper()
		out, err := fn.Call(ctx, payload)
		if err != nil {
			t.Fatalf("invoke: %v", err)
		}
		var resp events.APIGatewayV2HTTPResponse
		var body map[string]any
		if err := json.Unmarshal(out, &resp); err != nil || json.Unmarshal([]byte(resp.Body), &body) != nil {
			t.Fatalf("not an HTTP API answer: %s", out)
		}
		return resp.StatusCode, body
	}

	code, body := invoke(sample(t, "push.json"))
	pushID, _ := body["job_id"].(string)
	if code != 202 || body["published"] != true || pushID == "" {
		t.Fatalf("push: %d %v", code, body)
	}
	job, err := s.store.GetJob(ctx, pushID)
	if err != nil || job.Status != ci.StatusQueued || !job.Published || job.Repo != "narwhal-ci/hello-narwhal" {
		t.Fatalf("stored push job %+v (%v)", job, err)
	}
	if n := s.depth(t, ci.QueueJobs); n != 1 {
		t.Fatalf("%d messages on the jobs queue after one push, want 1", n)
	}

	if code, body := invoke(sample(t, "push.json")); code != 200 || body["duplicate"] != true || body["job_id"] != pushID {
		t.Fatalf("redelivered push: %d %v", code, body)
	}
	code, body = invoke(sample(t, "pull_request.json"))
	prID, _ := body["job_id"].(string)
	if code != 202 || body["published"] != true || prID == "" || prID == pushID {
		t.Fatalf("pull request: %d %v", code, body)
	}
	if code, body := invoke(sample(t, "ping.json")); code != 200 || body["pong"] != true {
		t.Fatalf("ping: %d %v", code, body)
	}
	tampered := bytes.Replace(sample(t, "push.json"), []byte(`refs/heads/main`), []byte(`refs/heads/mainx`), 1)
	if code, body := invoke(tampered); code != 401 {
		t.Fatalf("tampered push: %d %v", code, body)
	}

	page, err := s.store.ListJobs(ctx, ci.JobFilter{})
	if err != nil || len(page.Jobs) != 2 {
		t.Fatalf("%d jobs stored (%v), want the push and the pull request", len(page.Jobs), err)
	}
	msgs := s.drain(t, ci.QueueJobs)
	if len(msgs) != 2 || msgs[0]["job_id"] != pushID || msgs[1]["job_id"] != prID || msgs[0]["attempt"] != 1.0 {
		t.Fatalf("jobs queue %v, want one message per job: %s, %s", msgs, pushID, prID)
	}
	if logs := fn.Logs(); !strings.Contains(logs, `"status":401`) || !strings.Contains(logs, `"duplicate":true`) {
		t.Errorf("the function's log lines are missing:\n%s", logs)
	}
}
