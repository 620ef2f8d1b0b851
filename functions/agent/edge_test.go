package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/github"
	"github.com/narwhal-ci/narwhal/internal/intake"
	"github.com/narwhal-ci/narwhal/internal/lambdahttp"
	"github.com/narwhal-ci/narwhal/internal/queue/memq"
	"github.com/narwhal-ci/narwhal/internal/store/sqlite"
	"github.com/narwhal-ci/narwhal/internal/webhook"
)

// testSecret is the documented secret the events/*.json samples are signed with.
const testSecret = "narwhal-test-secret"

const sha1 = "1111111111111111111111111111111111111111"

// edge is the agent's Lambda handler as build makes it, on SQLite and memq.
type edge struct {
	invoke lambdahttp.AnyFunc
	store  *sqlite.Store
}

func newEdge(t *testing.T, secrets webhook.SecretSource) *edge {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	q := memq.New(memq.Config{})
	t.Cleanup(func() { q.Close(); st.Close() })
	log := slog.New(slog.DiscardHandler)
	if secrets == nil {
		secrets = webhook.SecretLines(testSecret)
	}
	h := webhook.NewHandler(webhook.Deps{Intake: &intake.Intake{Store: st, Queue: q, Logger: log}, Secrets: secrets, Logger: log})
	return &edge{invoke: lambdahttp.Any(h), store: st}
}

// send invokes the handler with ev (any value, marshalled as Lambda
// delivers it) and returns the response, which must be of want's type, with
// its decoded JSON body.
func (e *edge) send(t *testing.T, ev any, want any) (int, map[string]any) {
	t.Helper()
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.invoke(context.Background(), raw)
	if err != nil {
		t.Fatalf("handler returned an error: %v", err)
	}
	if reflect.TypeOf(out) != reflect.TypeOf(want) {
		t.Fatalf("response %T, want %T", out, want)
	}
	var status int
	var text string
	switch r := out.(type) {
	case events.APIGatewayV2HTTPResponse:
		status, text = r.StatusCode, r.Body
	case events.APIGatewayProxyResponse:
		status, text = r.StatusCode, r.Body
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(text), &body); err != nil {
		t.Fatalf("response body %q: %v", text, err)
	}
	return status, body
}

func (e *edge) jobs(t *testing.T) int {
	t.Helper()
	page, err := e.store.ListJobs(context.Background(), ci.JobFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Jobs)
}

// hook is a delivery to wrap in an API Gateway event.
type hook struct {
	event, id, secret, contentType string
	body                           []byte
	base64                         bool
	name                           func(string) string // header name spelling; nil means lower case
}

func (h hook) headers() map[string]string {
	name, secret, ct := h.name, h.secret, h.contentType
	if name == nil {
		name = strings.ToLower
	}
	if secret == "" {
		secret = testSecret
	}
	if ct == "" {
		ct = "application/json"
	}
	return map[string]string{name("Content-Type"): ct, name("X-GitHub-Event"): h.event,
		name("X-GitHub-Delivery"): h.id, name("X-Hub-Signature-256"): github.Sign(h.body, []byte(secret))}
}

func (h hook) bodyString() string {
	if h.base64 {
		return base64.StdEncoding.EncodeToString(h.body)
	}
	return string(h.body)
}

func (h hook) v2() events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: "POST /webhook", RawPath: "/webhook",
		Headers: h.headers(), Body: h.bodyString(), IsBase64Encoded: h.base64,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/webhook"}}}
}

func (h hook) v1() events.APIGatewayProxyRequest {
	return events.APIGatewayProxyRequest{Resource: "/webhook", Path: "/webhook", HTTPMethod: "POST",
		Headers: h.headers(), Body: h.bodyString(), IsBase64Encoded: h.base64}
}

func pushBody(t *testing.T, sha, message string) []byte {
	t.Helper()
	if !ci.ValidSHA(sha) { // a short name for a commit: the SHA it stands for
		sum := sha256.Sum256([]byte(sha))
		sha = hex.EncodeToString(sum[:20])
	}
	b, err := github.PushPayload(github.Commit{Repo: "acme/app", CloneURL: "https://example.test/acme/app.git",
		SHA: sha, Branch: "main", Message: message, Author: "Ada", Time: time.Date(2025, 1, 10, 9, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEventShapes: what API Gateway may send reaches the webhook intact, and
// the answer comes back in the shape of the request.
func TestEventShapes(t *testing.T) {
	t.Parallel()
	push := pushBody(t, sha1, "Add CI")
	form := []byte("payload=" + url.QueryEscape(string(push)))
	v2, v1 := events.APIGatewayV2HTTPResponse{}, events.APIGatewayProxyResponse{}
	canonical := func(s string) string { return s }
	badB64 := hook{event: "push", id: "d1", body: push}.v2()
	badB64.IsBase64Encoded = true
	multi := hook{event: "push", id: "d1", body: push, name: canonical}.v1()
	multi.MultiValueHeaders = map[string][]string{}
	for k, v := range multi.Headers {
		multi.MultiValueHeaders[http.CanonicalHeaderKey(k)] = []string{v}
	}
	multi.Headers = nil
	cases := []struct {
		name   string
		ev     any
		want   any
		status int
		jobs   int
	}{
		{"v2", hook{event: "push", id: "d1", body: push}.v2(), v2, 202, 1},
		{"v2 with upper-case header names", hook{event: "push", id: "d1", body: push, name: strings.ToUpper}.v2(), v2, 202, 1},
		{"v2 base64 body", hook{event: "push", id: "d1", body: push, base64: true}.v2(), v2, 202, 1},
		{"v2 base64 form body", hook{event: "push", id: "d1", body: form, base64: true, contentType: "application/x-www-form-urlencoded"}.v2(), v2, 202, 1},
		{"v2 bad base64", badB64, v2, 400, 0},
		{"v1 with canonical header names", hook{event: "push", id: "d1", body: push, name: canonical}.v1(), v1, 202, 1},
		{"v1 multi-value headers", multi, v1, 202, 1},
		{"v1 base64 body", hook{event: "push", id: "d1", body: push, base64: true}.v1(), v1, 202, 1},
		{"not an API Gateway event", []int{1}, v2, 400, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEdge(t, nil)
			status, body := e.send(t, tc.ev, tc.want)
			if status != tc.status || e.jobs(t) != tc.jobs {
				t.Fatalf("%d %v and %d jobs, want %d and %d jobs", status, body, e.jobs(t), tc.status, tc.jobs)
			}
			if status >= 400 && body["error"] == nil {
				t.Fatalf("body %v, want {\"error\": ...}", body)
			}
		})
	}
}
