package github

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// sampleBody returns the GitHub payload inside events/<name>.json and its
// X-GitHub-Event header.
func sampleBody(t testing.TB, name string) (event string, body []byte) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ev.Headers["x-github-event"], []byte(ev.Body)
}

// edit decodes body, lets change alter it, and encodes it again.
func edit(t testing.TB, body []byte, change func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	change(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func obj(m map[string]any, path ...string) map[string]any {
	for _, p := range path {
		m = m[p].(map[string]any)
	}
	return m
}

func TestParseSamples(t *testing.T) {
	t.Parallel()
	_, push := sampleBody(t, "push")
	_, pr := sampleBody(t, "pull_request")
	_, ping := sampleBody(t, "ping")

	got := mustParse(t, "push", push)
	want := ci.Job{
		ID:   ci.JobID("narwhal-ci/hello-narwhal", "6f1d0c3b8a2e4f5d9c7b1a0e3d2c4b5a69788796", ci.EventPush, 0),
		Repo: "narwhal-ci/hello-narwhal", CloneURL: "https://github.com/narwhal-ci/hello-narwhal.git",
		SHA: "6f1d0c3b8a2e4f5d9c7b1a0e3d2c4b5a69788796", Ref: "refs/heads/main", Branch: "main",
		Event: ci.EventPush, Author: "octocat",
		Message: "Add a test step to narwhal.yml\n\nRuns go test in the golang image.",
		Changes: ci.Changes{Known: true, Files: []string{"narwhal.yml"}, Base: "1c2b3a4d5e6f708192a3b4c5d6e7f8091a2b3c4d"},
	}
	assertJob(t, got, want)

	got = mustParse(t, "pull_request", pr)
	want = ci.Job{
		ID:   ci.JobID("narwhal-ci/hello-narwhal", "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3", ci.EventPullRequest, 7),
		Repo: "narwhal-ci/hello-narwhal", CloneURL: "https://github.com/narwhal-ci/hello-narwhal.git",
		SHA: "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3", Ref: "refs/pull/7/head", Branch: "main",
		Event: ci.EventPullRequest, PR: 7, Fork: true, Author: "contributor",
		Message: "Cache the Go module download",
		Changes: ci.Changes{Base: "6f1d0c3b8a2e4f5d9c7b1a0e3d2c4b5a69788796"},
	}
	assertJob(t, got, want)

	if r, err := ParseEvent("ping", ping); err != nil || r.Kind != KindPing {
		t.Fatalf("ping: %+v, %v", r, err)
	}
}

func mustParse(t *testing.T, event string, body []byte) Result {
	t.Helper()
	r, err := ParseEvent(event, body)
	if err != nil {
		t.Fatalf("ParseEvent(%s): %v", event, err)
	}
	if r.Kind != KindJob {
		t.Fatalf("ParseEvent(%s) = %+v, want a job", event, r)
	}
	return r
}

func assertJob(t *testing.T, got Result, want ci.Job) {
	t.Helper()
	g, _ := json.Marshal(got.Job)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Fatalf("job:\n got %s\nwant %s", g, w)
	}
}

func TestParseOutcomes(t *testing.T) {
	t.Parallel()
	_, push := sampleBody(t, "push")
	_, pr := sampleBody(t, "pull_request")
	pushWith := func(change func(m map[string]any)) []byte { return edit(t, push, change) }
	prWith := func(change func(m map[string]any)) []byte { return edit(t, pr, change) }
	message := func(msg string) []byte {
		return pushWith(func(m map[string]any) { obj(m, "head_commit")["message"] = msg })
	}
	cases := []struct {
		name, event string
		body        []byte
		kind        Kind
		reason      string
	}{
		{"push deleted", "push", pushWith(func(m map[string]any) { m["deleted"] = true }), KindIgnored, "branch deleted"},
		{"push after zero", "push", pushWith(func(m map[string]any) { m["after"] = zeroSHA }), KindIgnored, "branch deleted"},
		{"tag deleted", "push", pushWith(func(m map[string]any) {
			m["ref"], m["deleted"], m["after"] = "refs/tags/v1.0.0", true, zeroSHA
		}), KindIgnored, "tag deleted"},
		{"push to a note ref", "push", pushWith(func(m map[string]any) { m["ref"] = "refs/notes/commits" }), KindIgnored, "push to refs/notes/commits ignored"},
		{"[skip ci]", "push", message("Fix typo [skip ci]"), KindIgnored, "skip ci in commit message"},
		{"[CI SKIP]", "push", message("docs: readme\n\n[CI SKIP]"), KindIgnored, "skip ci in commit message"},
		{"[Skip Ci]", "push", message("[Skip Ci] wip"), KindIgnored, "skip ci in commit message"},
		{"skip ci without brackets runs", "push", message("do not skip ci here"), KindJob, ""},
		{"[skip ci] in an older commit runs", "push", pushWith(func(m map[string]any) {
			m["commits"] = []any{map[string]any{"id": "1", "message": "[skip ci]"}}
		}), KindJob, ""},
		{"pr opened", "pull_request", prWith(func(m map[string]any) { m["action"] = "opened" }), KindJob, ""},
		{"pr reopened", "pull_request", prWith(func(m map[string]any) { m["action"] = "reopened" }), KindJob, ""},
		{"pr closed", "pull_request", prWith(func(m map[string]any) { m["action"] = "closed" }), KindIgnored, "pull_request action closed ignored"},
		{"pr labeled", "pull_request", prWith(func(m map[string]any) { m["action"] = "labeled" }), KindIgnored, "pull_request action labeled ignored"},
		{"pr title [skip ci]", "pull_request", prWith(func(m map[string]any) {
			obj(m, "pull_request")["title"] = "[ci skip] Cache modules"
		}), KindIgnored, "skip ci in pull request title"},
		{"issues", "issues", []byte(`{"action":"opened","issue":{"number":1}}`), KindIgnored, "event issues not handled"},
		{"unknown event", "narwhal_custom", []byte(`{}`), KindIgnored, "event narwhal_custom not handled"},
		{"ping without fields", "ping", []byte(`{}`), KindPing, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseEvent(tc.event, tc.body)
			if err != nil {
				t.Fatalf("ParseEvent: %v", err)
			}
			if r.Kind != tc.kind || r.Reason != tc.reason {
				t.Fatalf("got %s %q, want %s %q", r.Kind, r.Reason, tc.kind, tc.reason)
			}
		})
	}
}

func TestParsePushTag(t *testing.T) {
	t.Parallel()
	_, push := sampleBody(t, "push")
	body := edit(t, push, func(m map[string]any) { m["ref"], m["base_ref"] = "refs/tags/v1.2.0", "refs/heads/main" })
	r := mustParse(t, "push", body)
	if r.Job.Ref != "refs/tags/v1.2.0" || r.Job.Branch != "main" || r.Job.Event != ci.EventTag {
		t.Fatalf("tag push job: %+v", r.Job)
	}
	if branch := mustParse(t, "push", push); branch.Job.ID == r.Job.ID || branch.Job.SHA != r.Job.SHA {
		t.Fatalf("branch job %s and tag job %s of one commit must be two jobs", branch.Job.ID, r.Job.ID)
	}
}

func TestParsePullRequestFork(t *testing.T) {
	t.Parallel()
	_, pr := sampleBody(t, "pull_request")
	same := edit(t, pr, func(m map[string]any) {
		obj(m, "pull_request", "head")["repo"] = obj(m, "pull_request", "base", "repo")
	})
	if r := mustParse(t, "pull_request", same); r.Job.Fork {
		t.Fatal("a pull request from a branch of the same repository is not a fork")
	}
	gone := edit(t, pr, func(m map[string]any) { obj(m, "pull_request", "head")["repo"] = nil })
	if r := mustParse(t, "pull_request", gone); !r.Job.Fork {
		t.Fatal("a pull request whose head repository was deleted counts as a fork")
	}
}

func TestParseMalformed(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, event, body string }{
		{"not JSON", "push", `{"ref":`},
		{"empty", "push", ``},
		{"not JSON for an unhandled event", "issues", `nope`},
		{"array", "push", `[]`},
		{"empty push", "push", `{}`},
		{"push without repository", "push", `{"ref":"refs/heads/main","after":"abc"}`},
		{"wrong type", "push", `{"ref":42}`},
		{"empty pull request", "pull_request", `{"action":"opened"}`},
		{"pull request without head SHA", "pull_request",
			`{"action":"opened","number":3,"pull_request":{"base":{"repo":{"full_name":"a/b"}}}}`},
		{"ping array", "ping", `[1]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseEvent(tc.event, []byte(tc.body))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseEvent = %+v, %v; want ErrMalformed", r, err)
			}
		})
	}
}

// TestParseInvalidJSONSaysSo: the decoder's own syntax check (there is no
// separate pass) still names invalid JSON as such, wherever it breaks.
func TestParseInvalidJSONSaysSo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ event, body string }{
		{"push", `{"ref":`}, {"push", `{"ref":"refs/heads/main"} trailing`}, {"pull_request", `{"action":"opened",}`},
		{"ping", `[1,`}, {"push", ``}, {"issues", `{nope}`},
	} {
		_, err := ParseEvent(tc.event, []byte(tc.body))
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "body is not valid JSON") {
			t.Errorf("ParseEvent(%s, %q) = %v; want ErrMalformed saying the body is not valid JSON", tc.event, tc.body, err)
		}
	}
}

func TestPayloadsRoundTrip(t *testing.T) {
	t.Parallel()
	c := Commit{Repo: "local/demo", CloneURL: "file:///tmp/demo", SHA: "0123456789abcdef0123456789abcdef01234567",
		Branch: "feature", Message: "Add things\n\nbody", Author: "Ada", Email: "ada@example.com"}
	body, err := PushPayload(c)
	if err != nil {
		t.Fatal(err)
	}
	r := mustParse(t, "push", body)
	want := ci.Job{ID: ci.JobID(c.Repo, c.SHA, ci.EventPush, 0), Repo: c.Repo, CloneURL: c.CloneURL, SHA: c.SHA,
		Ref: "refs/heads/feature", Branch: "feature", Event: ci.EventPush, Author: "Ada", Message: c.Message}
	assertJob(t, r, want)

	body, err = PullRequestPayload(c, 12, "main")
	if err != nil {
		t.Fatal(err)
	}
	r = mustParse(t, "pull_request", body)
	want = ci.Job{ID: ci.JobID(c.Repo, c.SHA, ci.EventPullRequest, 12), Repo: c.Repo, CloneURL: c.CloneURL,
		SHA: c.SHA, Ref: "refs/pull/12/head", Branch: "main", Event: ci.EventPullRequest, PR: 12,
		Author: "Ada", Message: "Add things"}
	assertJob(t, r, want)

	body, err = PingPayload(c.Repo, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := ParseEvent("ping", body); err != nil || r.Kind != KindPing {
		t.Fatalf("ping: %+v %v", r, err)
	}
}
