package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// TestResubmitFromStep: a body {"from_step"} re-runs the job from that step
// (the new job's resume names the steps not run again and the snapshot), a
// re-run that cannot start where the job left off is a 409 that says to
// re-run the whole job, and a bad body is a 400 that changes nothing.
func TestResubmitFromStep(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	now := time.Now()
	seedJob(t, r.store, 1, func(j *ci.Job) {
		j.Status, j.FinishedAt = ci.StatusFailure, now
		j.Steps = []ci.Step{
			{Name: "build", Status: ci.StepSuccess, FinishedAt: now, Snapshot: "snapshots/job01/1/build.tar.zst"},
			{Name: "test", Status: ci.StepFailure, DependsOn: []string{"build"}},
		}
	})
	seedJob(t, r.store, 2, func(j *ci.Job) {
		j.Status, j.FinishedAt, j.Fork = ci.StatusFailure, now, true
		j.Steps = []ci.Step{{Name: "build", Status: ci.StepSuccess}, {Name: "test", Status: ci.StepFailure, DependsOn: []string{"build"}}}
	})
	auth := "Bearer " + token
	resp := r.sendBody(t, "POST", "/jobs/job01/resubmit", auth, `{"from_step": "test"}`)
	expect(t, resp, http.StatusCreated)
	var j ci.Job
	resp.decode(t, &j)
	if j.ParentID != "job01" || j.Resume == nil || j.Resume.From != "test" || j.Resume.Snapshot != "snapshots/job01/1/build.tar.zst" ||
		j.Resume.Done["build"] == "" {
		t.Fatalf("new job %+v (resume %+v)", j, j.Resume)
	}
	for body, want := range map[string]string{
		`{"from_step": "test"}`:   "pull requests from forks keep no workspace; re-run the whole job instead",
		`{"from_step": "deploy"}`: `job job02 has no step "deploy"`,
	} {
		resp := r.sendBody(t, "POST", "/jobs/job02/resubmit", auth, body)
		expect(t, resp, http.StatusConflict)
		if msg := resp.errorText(t); !strings.Contains(msg, want) {
			t.Errorf("%s: %q, want %q", body, msg, want)
		}
	}
	for _, body := range []string{`{"from": "test"}`, `[1]`, `{"from_step": 3}`} {
		expect(t, r.sendBody(t, "POST", "/jobs/job01/resubmit", auth, body), http.StatusBadRequest)
	}
	expect(t, r.sendBody(t, "POST", "/jobs/job01/resubmit", auth, `{"from_step": "`+strings.Repeat("x", 5000)+`"}`), http.StatusRequestEntityTooLarge)
	var page ci.JobPage
	r.do(t, "GET", "/jobs?limit=200").decode(t, &page)
	if len(page.Jobs) != 3 {
		t.Errorf("%d jobs after one good resubmit and refused ones, want 3", len(page.Jobs))
	}
}
