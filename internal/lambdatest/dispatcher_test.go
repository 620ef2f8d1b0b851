package lambdatest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/mqevent"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/lambdahttp"
	"github.com/narwhal-ci/narwhal/internal/mqbridge"
	"github.com/narwhal-ci/narwhal/internal/queue"
	"github.com/narwhal-ci/narwhal/internal/runnerkey"
	"github.com/narwhal-ci/narwhal/internal/testenv"
	"github.com/narwhal-ci/narwhal/internal/tlsgen"
)

// TestDispatcherUnderEmulator runs the dispatcher's bootstrap as Lambda
// would against moto_server and the test RabbitMQ, and feeds it the three
// kinds of events: events/mq-batch.json (and a runner report), a batch
// with a job that does not exist, events/schedule.json, and HTTP API
// requests.
func TestDispatcherUnderEmulator(t *testing.T) {
	testenv.AWSEndpoint(t)
	s := newServices(t, testenv.AMQPURL(t))
	ctx := context.Background()
	bucket := s.table // a valid bucket name too
	s3c := s3.NewFromConfig(s.awsCfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s3c.DeleteBucket(context.Background(), &s3.DeleteBucketInput{Bucket: &bucket}) })
	cert, _, err := tlsgen.SelfSigned([]string{"runner.test"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	fn := Start(t, RIE(t), Build(t, "./functions/dispatcher"), Options{Name: "DispatcherFunction", Timeout: 30 * time.Second,
		Env: map[string]string{
			"NARWHAL_TABLE": s.table, "NARWHAL_AMQP_URL": s.amqpURL, "NARWHAL_AMQP_PREFIX": s.prefix,
			"NARWHAL_LOG_BUCKET":              bucket,
			"NARWHAL_RUNNER_TOKEN_SECRET_ARN": s.secret(t, "runner-token", fleetKey),
			"NARWHAL_RUNNER_CA":               base64.StdEncoding.EncodeToString(cert),
			"NARWHAL_API_TOKENS_SECRET_ARN":   s.secret(t, "api-tokens", "old-token,api-token"),
			"NARWHAL_SECRETS_PREFIX":          s.table + "/repos/",
		}})

	// A queued job, the one of events/mq-batch.json, and no runner: it waits.
	batch := prefixed(t, s.prefix, sample(t, "mq-batch.json"))
	jobID := jobOf(t, batch)
	createJob(t, s, ci.Job{ID: jobID, Published: true, CreatedAt: time.Now()})
	if out, err := fn.Call(ctx, batch); err != nil || string(out) != "null" {
		t.Fatalf("mq-batch.json: %s %v", out, err)
	}
	j, err := s.store.GetJob(ctx, jobID)
	if err != nil || j.Status != ci.StatusQueued || j.Waiting != "no runners registered" {
		t.Fatalf("job after the batch: %+v (%v)", j, err)
	}
	if n := s.depth(t, queue.WaitQueue(5*time.Second)) + s.depth(t, ci.QueueJobs); n != 1 {
		t.Errorf("%d messages published for the waiting job, want its one delayed retry", n)
	}

	// A batch with a job that does not exist fails as a whole.
	var fe *mqbridge.FunctionError
	if _, err := fn.Call(ctx, mqBatch(t, s.prefix+ci.QueueJobs, `{"job_id":"no-such-job","attempt":1}`)); !errors.As(err, &fe) ||
		!strings.Contains(fe.Message, "no-such-job") {
		t.Fatalf("batch with an unknown job: %v", err)
	}

	// A runner report on narwhal.events, signed by its runner (the header
	// goes through the event source's {"bytes": ...} form), registers the
	// runner; an unsigned one is dropped.
	for _, id := range []string{"r1", "forged"} {
		report, _ := json.Marshal(ci.RunnerEvent{Kind: ci.EventRegister, RunnerID: id, Seq: 1, Time: time.Now(),
			Runner: &ci.Runner{ID: id, Address: "runner.test:7070", Capacity: 2, Labels: []string{"linux"}}})
		var h amqp091.Table
		if id == "r1" {
			h = amqp091.Table{runnerkey.Header: runnerkey.Sign(runnerkey.Token(fleetKey, id), report)}
		}
		if _, err := fn.Call(ctx, mqBatchWith(t, s.prefix+ci.QueueEvents, string(report), h)); err != nil {
			t.Fatalf("register report of %s: %v", id, err)
		}
	}

	// The schedule runs the monitor, whose sweep republishes a lost publish.
	lost := createJob(t, s, ci.Job{ID: "lost-" + s.id, CreatedAt: time.Now().Add(-2 * time.Minute)})
	out, err := fn.Call(ctx, sample(t, "schedule.json"))
	if err != nil || !strings.Contains(string(out), `"republished":1`) {
		t.Fatalf("schedule.json: %s %v", out, err)
	}
	if j, _ := s.store.GetJob(ctx, lost.ID); !j.Published {
		t.Errorf("the monitor did not republish %s", lost.ID)
	}

	// The REST API.
	for _, tc := range []struct {
		path, token string
		status      int
		want        string
	}{
		{"/healthz", "", 200, ""},
		{"/jobs/" + jobID, "api-token", 200, `"waiting":"no runners registered"`},
		{"/runners", "old-token", 200, `"id":"r1"`},
		{"/jobs/" + jobID, "", 401, "missing bearer token"},
	} {
		resp := httpCall(t, fn, tc.path, tc.token)
		if resp.StatusCode != tc.status || !strings.Contains(resp.Body, tc.want) {
			t.Errorf("GET %s: %d %s", tc.path, resp.StatusCode, resp.Body)
		}
	}
	if resp := httpCall(t, fn, "/runners", "api-token"); strings.Contains(resp.Body, "forged") {
		t.Errorf("an unsigned register report counted: %s", resp.Body)
	}
	repoSecretsThroughLambda(t, fn)
}

// repoSecretsThroughLambda sets, lists and removes a repository secret
// through the function's REST API, kept in moto's Secrets Manager under
// NARWHAL_SECRETS_PREFIX; the value never comes back.
func repoSecretsThroughLambda(t *testing.T, fn *Function) {
	const value = "lambda-s3cret-value"
	for _, tc := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"PUT", "/repos/acme/app/secrets/DEPLOY_KEY", `{"value":"` + value + `"}`, 200, `"name":"DEPLOY_KEY"`},
		{"PUT", "/repos/acme/app/secrets/BAD-NAME", `{"value":"x"}`, 400, "invalid secret name"},
		{"GET", "/repos/acme/app/secrets", "", 200, `"name":"DEPLOY_KEY","allow_pull_requests":false`},
		{"PUT", "/repos/acme/app/registries/ghcr.io", `{"username":"bot","password":"` + value + `"}`, 200, `"host":"ghcr.io"`},
		{"GET", "/repos/acme/app/registries", "", 200, `"username":"bot"`},
		{"DELETE", "/repos/acme/app/secrets/DEPLOY_KEY", "", 200, `"deleted":"DEPLOY_KEY"`},
		{"DELETE", "/repos/acme/app/secrets/DEPLOY_KEY", "", 404, "not found"},
	} {
		resp := httpSend(t, fn, tc.method, tc.path, "api-token", tc.body)
		if resp.StatusCode != tc.status || !strings.Contains(resp.Body, tc.want) || strings.Contains(resp.Body, value) {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, resp.StatusCode, resp.Body)
		}
	}
}

// fleetKey is the dispatcher's fleet key in these tests.
const fleetKey = "lambdatest-fleet-key-0123456789"

// createJob stores a queued first attempt of a push job with j's ID,
// Published and CreatedAt.
func createJob(t *testing.T, s *services, j ci.Job) ci.Job {
	t.Helper()
	j.Repo, j.CloneURL, j.SHA, j.Ref, j.Branch = "narwhal-ci/hello-narwhal", "file:///nonexistent", strings.Repeat("a", 40), "refs/heads/main", "main"
	j.Event, j.Status, j.Attempt = ci.EventPush, ci.StatusQueued, 1
	created, err := s.store.CreateJob(context.Background(), j)
	if err != nil {
		t.Fatal(err)
	}
	return created
}

// prefixed moves the messages of an MQ event to the prefixed queue names
// the test's topology uses.
func prefixed(t *testing.T, prefix string, raw []byte) []byte {
	t.Helper()
	var ev events.RabbitMQEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	moved := map[string][]events.RabbitMQMessage{}
	for k, msgs := range ev.MessagesByQueue {
		moved[prefix+k] = msgs
	}
	ev.MessagesByQueue = moved
	out, _ := json.Marshal(ev)
	return out
}

// jobOf reads the job ID of the first message of an MQ event.
func jobOf(t *testing.T, raw []byte) string {
	t.Helper()
	var ev events.RabbitMQEvent
	json.Unmarshal(raw, &ev)
	for _, msgs := range ev.MessagesByQueue {
		d, err := mqevent.Delivery(msgs[0])
		var body struct {
			JobID string `json:"job_id"`
		}
		if err != nil || json.Unmarshal(d.Body, &body) != nil || body.JobID == "" {
			t.Fatalf("no job message in the sample: %v", err)
		}
		return body.JobID
	}
	t.Fatal("empty MQ event")
	return ""
}

// mqBatch is an MQ event of one message on queue, as the bridge builds it.
func mqBatch(t *testing.T, queue, body string) []byte {
	t.Helper()
	return mqBatchWith(t, queue, body, nil)
}

// mqBatchWith is mqBatch with AMQP headers on the message.
func mqBatchWith(t *testing.T, queue, body string, headers amqp091.Table) []byte {
	t.Helper()
	d := amqp091.Delivery{Body: []byte(body), MessageId: "m-" + randomID(), ContentType: "application/json",
		Headers: headers}
	raw, err := json.Marshal(mqevent.Event(mqevent.DefaultEventSourceARN, queue, "/", []amqp091.Delivery{d}))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// httpCall sends GET path through the function as API Gateway would.
func httpCall(t *testing.T, fn *Function, path, token string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	return httpSend(t, fn, "GET", path, token, "")
}

// httpSend is httpCall with a method and a JSON body ("" for none).
func httpSend(t *testing.T, fn *Function, method, path, token, body string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	var raw []byte
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
		raw = []byte(body)
	}
	ev, _ := json.Marshal(lambdahttp.NewEvent(r, raw, time.Now()))
	out, err := fn.Call(context.Background(), ev)
	var resp events.APIGatewayV2HTTPResponse
	if err != nil || json.Unmarshal(out, &resp) != nil {
		t.Fatalf("%s %s: %s %v", method, path, out, err)
	}
	if resp.IsBase64Encoded {
		b, _ := base64.StdEncoding.DecodeString(resp.Body)
		resp.Body = string(b)
	}
	return resp
}
