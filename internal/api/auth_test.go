package api_test

import (
	"net/http"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/api"
)

func TestHealthzNeedsNoToken(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	resp := r.send(t, "GET", "/healthz", "")
	expect(t, resp, http.StatusOK)
	var h api.HealthBody
	resp.decode(t, &h)
	if !h.OK {
		t.Errorf("healthz body %s", resp.body)
	}
	expect(t, r.send(t, "POST", "/healthz", ""), http.StatusMethodNotAllowed)
}

func TestAuth(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	tests := []struct {
		name, authorization string
		status              int
		challenge           string
	}{
		{"no header", "", 401, `Bearer realm="narwhal"`},
		{"wrong scheme", "Basic " + token, 401, `Bearer realm="narwhal"`},
		{"empty token", "Bearer ", 401, `Bearer realm="narwhal"`},
		{"wrong token", "Bearer nope", 401, `Bearer realm="narwhal", error="invalid_token"`},
		{"token prefix", "Bearer " + token[:5], 401, `Bearer realm="narwhal", error="invalid_token"`},
		{"token", "Bearer " + token, 200, ""},
		{"second token", "Bearer other-token", 200, ""},
		{"scheme in lower case", "bearer " + token, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := r.send(t, "GET", "/jobs", tt.authorization)
			expect(t, resp, tt.status)
			if got := resp.header.Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.challenge)
			}
		})
	}
	// Unknown routes do not tell strangers what exists.
	expect(t, r.send(t, "GET", "/nope", ""), http.StatusUnauthorized)
}

func TestAuthFailsClosedWithoutTokens(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(d *api.Deps) { d.Tokens = []string{""} })
	expect(t, r.send(t, "GET", "/jobs", "Bearer "), http.StatusUnauthorized)
	expect(t, r.send(t, "GET", "/jobs", "Bearer x"), http.StatusUnauthorized)

	open := newRig(t, func(d *api.Deps) { d.Tokens = nil; d.Insecure = true })
	expect(t, open.send(t, "GET", "/jobs", ""), http.StatusOK)
}

func TestUnknownRouteAndMethodAnswerJSON(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	resp := r.do(t, "GET", "/nope")
	expect(t, resp, http.StatusNotFound)
	if got := resp.errorText(t); got != "no route GET /nope" {
		t.Errorf("error = %q", got)
	}
	resp = r.do(t, "DELETE", "/jobs/job01")
	expect(t, resp, http.StatusMethodNotAllowed)
	if allow := resp.header.Get("Allow"); !contains(allow, "GET") {
		t.Errorf("Allow = %q, want GET listed", allow)
	}
	expect(t, r.do(t, "GET", "/jobs/job01/cancel"), http.StatusMethodNotAllowed)
	for _, p := range []string{"/jobs/", "/jobs//logs", "/jobs/x/../y", "/healthz/"} {
		expect(t, r.do(t, "GET", p), http.StatusNotFound) // no redirects
	}
}

func TestMissingDependencyIs501(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(d *api.Deps) { d.Ops = nil })
	expect(t, r.do(t, "POST", "/runners/r1/drain"), http.StatusNotImplemented)
	expect(t, r.do(t, "GET", "/runners"), http.StatusOK)
}

func TestOneLogLinePerRequest(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.do(t, "GET", "/jobs")
	r.do(t, "GET", "/jobs/missing")
	r.send(t, "GET", "/healthz", "")
	lines := r.log.lines(t)
	if len(lines) != 3 {
		t.Fatalf("%d log lines, want 3: %v", len(lines), lines)
	}
	want := []struct {
		path   string
		status float64
	}{{"/jobs", 200}, {"/jobs/missing", 404}, {"/healthz", 200}}
	for i, w := range want {
		l := lines[i]
		if l["method"] != "GET" || l["path"] != w.path || l["status"] != w.status || l["duration"] == nil {
			t.Errorf("line %d = %v, want GET %s %v with a duration", i, l, w.path, w.status)
		}
	}
	if l := lines[1]; !contains(l["error"].(string), "not found") {
		t.Errorf("404 line without its cause: %v", l)
	}
}
