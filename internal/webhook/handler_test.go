package webhook

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/github"
	"github.com/narwhal-ci/narwhal/internal/store/sqlite"
)

const sha1 = "1111111111111111111111111111111111111111"

func ptr(s string) *string { return &s }

func TestWebhookOutcomes(t *testing.T) {
	t.Parallel()
	push := pushBody(t, sha1, "Add CI")
	jobID := ci.JobID("acme/app", sha1, ci.EventPush, 0)
	created := map[string]any{"job_id": jobID, "status": "queued", "published": true}
	form := "payload=" + url.QueryEscape(string(push))
	cases := []struct {
		name    string
		ev      func() delivery
		status  int
		body    map[string]any // nil: {"error": ...}
		stored  int
		secrets SecretSource
	}{
		{"signed v2", func() delivery { return delivery{event: "push", id: "d1", body: push} }, 202, created, 1, nil},
		{"form-encoded payload", func() delivery {
			return delivery{event: "push", id: "d1", body: []byte(form),
				contentType: "application/x-www-form-urlencoded"}
		}, 202, created, 1, nil},
		{"json with charset", func() delivery {
			return delivery{event: "push", id: "d1", body: push, contentType: "application/json; charset=utf-8"}
		}, 202, created, 1, nil},
		{"rotated: old secret", func() delivery { return delivery{event: "push", id: "d1", body: push, secret: "old"} },
			202, created, 1, SecretLines("new\nold")},
		{"rotated: new secret", func() delivery { return delivery{event: "push", id: "d1", body: push, secret: "new"} },
			202, created, 1, SecretLines("old\nnew")},
		{"secret with a comma: whole", func() delivery { return delivery{event: "push", id: "d1", body: push, secret: "pa,ss"} },
			202, created, 1, SecretLines("pa,ss")},
		{"secret with a comma: part", func() delivery { return delivery{event: "push", id: "d1", body: push, secret: "pa"} },
			401, nil, 0, SecretLines("pa,ss")},
		{"null body", func() delivery { return delivery{event: "push", id: "d1", body: []byte("null")} }, 400, nil, 0, nil},
		{"null pull_request body", func() delivery { return delivery{event: "pull_request", id: "d1", body: []byte(" null ")} }, 400, nil, 0, nil},
		{"list body", func() delivery { return delivery{event: "push", id: "d1", body: []byte(`[{"ref":"refs/heads/main"}]`)} }, 400, nil, 0, nil},
		{"string body", func() delivery { return delivery{event: "ping", id: "d1", body: []byte(`"zen"`)} }, 400, nil, 0, nil},
		{"tampered body", func() delivery {
			d := delivery{event: "push", id: "d1", body: []byte(strings.Replace(string(push), "Add CI", "Add CJ", 1))}
			d.sigHeader = ptr(github.Sign(push, []byte(testSecret)))
			return d
		}, 401, nil, 0, nil},
		{"wrong secret", func() delivery { return delivery{event: "push", id: "d1", body: push, secret: "guess"} }, 401, nil, 0, nil},
		{"missing signature", func() delivery { return delivery{event: "push", id: "d1", body: push, sigHeader: ptr("")} }, 401, nil, 0, nil},
		{"malformed signature", func() delivery { return delivery{event: "push", id: "d1", body: push, sigHeader: ptr("sha256=zz")} }, 401, nil, 0, nil},
		{"missing event header", func() delivery { return delivery{id: "d1", body: push} }, 400, nil, 0, nil},
		{"malformed JSON", func() delivery { return delivery{event: "push", id: "d1", body: []byte(`{"ref":`)} }, 400, nil, 0, nil},
		{"push without repository", func() delivery { return delivery{event: "push", id: "d1", body: []byte(`{"ref":"refs/heads/x"}`)} }, 400, nil, 0, nil},
		{"form without payload", func() delivery {
			return delivery{event: "push", id: "d1", body: []byte("other=1"), contentType: "application/x-www-form-urlencoded"}
		}, 400, nil, 0, nil},
		{"unsupported content type", func() delivery { return delivery{event: "push", id: "d1", body: push, contentType: "text/plain"} }, 415, nil, 0, nil},
		{"ping", func() delivery {
			b, _ := github.PingPayload("acme/app", 1)
			return delivery{event: "ping", id: "d1", body: b}
		}, 200, map[string]any{"pong": true}, 0, nil},
		{"skip ci", func() delivery { return delivery{event: "push", id: "d1", body: pushBody(t, sha1, "docs [skip ci]")} },
			202, map[string]any{"ignored": "skip ci in commit message"}, 0, nil},
		{"unhandled event", func() delivery { return delivery{event: "issues", id: "d1", body: []byte(`{"action":"opened"}`)} },
			202, map[string]any{"ignored": "event issues not handled"}, 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, sqlite.Memory, tc.secrets)
			status, body := r.post(t, tc.ev())
			if status != tc.status {
				t.Fatalf("status %d, want %d (body %v)", status, tc.status, body)
			}
			if tc.body == nil {
				if msg, ok := body["error"].(string); !ok || msg == "" || len(body) != 1 {
					t.Fatalf("body %v, want {\"error\": ...}", body)
				}
			} else if !reflect.DeepEqual(body, tc.body) {
				t.Fatalf("body %v, want %v", body, tc.body)
			}
			if n := len(r.jobs(t)); n != tc.stored {
				t.Fatalf("%d jobs stored, want %d", n, tc.stored)
			}
			if n := len(r.drain(t)); n != tc.stored {
				t.Fatalf("%d messages published, want %d", n, tc.stored)
			}
			assertOneLogLine(t, r, tc.status)
		})
	}
}

// assertOneLogLine checks that the invocation logged exactly one line, with
// its status and (for failures) the error.
func assertOneLogLine(t *testing.T, r *rig, status int) {
	t.Helper()
	lines := r.logBuf.lines(t)
	if len(lines) != 1 {
		t.Fatalf("%d log lines, want 1: %v", len(lines), lines)
	}
	l := lines[0]
	if l["status"] != float64(status) {
		t.Fatalf("log line status %v, want %d: %v", l["status"], status, l)
	}
	if _, ok := l["delivery"]; !ok {
		t.Fatalf("log line without delivery: %v", l)
	}
	if _, hasErr := l["error"]; hasErr != (status >= 400) {
		t.Fatalf("log line error field present=%v for status %d: %v", hasErr, status, l)
	}
}

func TestBodyTooLarge(t *testing.T) {
	t.Parallel()
	r := newRig(t, sqlite.Memory, nil)
	big := []byte(`{"pad":"` + strings.Repeat("x", MaxBodyBytes) + `"}`)
	status, body := r.post(t, delivery{event: "push", id: "big", body: big})
	if status != http.StatusRequestEntityTooLarge || body["error"] == nil {
		t.Fatalf("%d %v, want 413", status, body)
	}
	if n := len(r.jobs(t)); n != 0 {
		t.Fatalf("%d jobs stored", n)
	}
}

func TestRedeliveryIsDuplicate(t *testing.T) {
	t.Parallel()
	r := newRig(t, sqlite.Memory, nil)
	push := pushBody(t, sha1, "Add CI")
	jobID := ci.JobID("acme/app", sha1, ci.EventPush, 0)
	if status, _ := r.post(t, delivery{event: "push", id: "d1", body: push}); status != 202 {
		t.Fatalf("first delivery: %d", status)
	}
	for _, id := range []string{"d2", "d2"} {
		status, body := r.post(t, delivery{event: "push", id: id, body: push})
		want := map[string]any{"duplicate": true, "job_id": jobID}
		if status != 200 || !reflect.DeepEqual(body, want) {
			t.Fatalf("redelivery: %d %v, want 200 %v", status, body, want)
		}
	}
	j, err := r.store.GetJob(context.Background(), jobID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(j.Deliveries, []string{"d1", "d2"}) {
		t.Fatalf("deliveries %v, want [d1 d2]", j.Deliveries)
	}
	if n := len(r.drain(t)); n != 1 {
		t.Fatalf("%d messages, want 1", n)
	}
}

func TestPullRequestJob(t *testing.T) {
	t.Parallel()
	r := newRig(t, sqlite.Memory, nil)
	c := github.Commit{Repo: "acme/app", CloneURL: "https://example.test/acme/app.git", SHA: sha1,
		Branch: "feature", Message: "Add feature", Author: "Ada"}
	b, err := github.PullRequestPayload(c, 9, "main")
	if err != nil {
		t.Fatal(err)
	}
	status, body := r.post(t, delivery{event: "pull_request", id: "d1", body: b})
	if status != 202 || body["job_id"] != ci.JobID("acme/app", sha1, ci.EventPullRequest, 9) {
		t.Fatalf("%d %v", status, body)
	}
	j := r.jobs(t)[0]
	if j.PR != 9 || j.Ref != "refs/pull/9/head" || j.Branch != "main" || j.Fork || j.Event != ci.EventPullRequest {
		t.Fatalf("stored job %+v", j)
	}
}

func TestPublishFailureThenSweep(t *testing.T) {
	t.Parallel()
	r := newRig(t, sqlite.Memory, nil)
	r.flaky.Fail.Store(true)
	status, body := r.post(t, delivery{event: "push", id: "d1", body: pushBody(t, sha1, "x")})
	if status != 202 || body["published"] != false || body["status"] != "queued" {
		t.Fatalf("%d %v, want 202 unpublished", status, body)
	}
	jobs := r.jobs(t)
	if len(jobs) != 1 || jobs[0].Published {
		t.Fatalf("stored %+v, want one unpublished job", jobs)
	}
	assertOneLogLine(t, r, 202)
	if p, _ := r.logBuf.lines(t)[0]["problem"].(string); !strings.Contains(p, "broker unreachable") {
		t.Fatalf("log line does not say why the job is unpublished: %v", r.logBuf.lines(t)[0])
	}
	r.flaky.Fail.Store(false)
	n, err := r.in.Sweep(context.Background(), 0)
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1", n, err)
	}
	if m := r.drain(t); len(m) != 1 || m[0].ID != jobs[0].ID {
		t.Fatalf("messages %+v", m)
	}
	if j := r.jobs(t)[0]; !j.Published {
		t.Fatal("swept job not marked published")
	}
}

func TestStoreFailureIs500(t *testing.T) {
	t.Parallel()
	r := newRig(t, sqlite.Memory, nil)
	r.store.Close()
	status, body := r.post(t, delivery{event: "push", id: "d1", body: pushBody(t, sha1, "x")})
	if status != 500 || body["error"] == nil {
		t.Fatalf("%d %v, want 500", status, body)
	}
	assertOneLogLine(t, r, 500)
	if lvl := r.logBuf.lines(t)[0]["level"]; lvl != "ERROR" {
		t.Fatalf("level %v, want ERROR", lvl)
	}
}

type brokenSecrets struct{}

func (brokenSecrets) Secrets(context.Context) ([][]byte, error) { return nil, fmt.Errorf("no access") }

func TestSecretFailureIs500(t *testing.T) {
	t.Parallel()
	r := newRig(t, sqlite.Memory, brokenSecrets{})
	status, _ := r.post(t, delivery{event: "push", id: "d1", body: pushBody(t, sha1, "x")})
	if status != 500 || len(r.jobs(t)) != 0 {
		t.Fatalf("status %d, want 500 and nothing stored", status)
	}
}
