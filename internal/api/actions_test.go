package api_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/api"
	"github.com/narwhal-ci/narwhal/internal/api/apitest"
	"github.com/narwhal-ci/narwhal/internal/ci"
)

func TestResubmit(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	seedJob(t, r.store, 1, func(j *ci.Job) { j.Status = ci.StatusFailure })
	resp := r.do(t, "POST", "/jobs/job01/resubmit")
	expect(t, resp, http.StatusCreated)
	var j ci.Job
	resp.decode(t, &j)
	if j.ParentID != "job01" || j.Status != ci.StatusQueued || j.ID == "job01" || j.SHA == "" {
		t.Fatalf("new job = %+v", j)
	}
	if loc := resp.header.Get("Location"); loc != "/jobs/"+j.ID {
		t.Errorf("Location = %q", loc)
	}
	if _, err := r.store.GetJob(context.Background(), j.ID); err != nil {
		t.Errorf("the new job is not in the store: %v", err)
	}
}

func TestResubmitErrors(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	seedJob(t, r.store, 1, func(j *ci.Job) { j.Status = ci.StatusRunning })
	seedJob(t, r.store, 2, func(j *ci.Job) { j.Status = ci.StatusError; j.SHA, j.CloneURL = "", "" })
	tests := []struct {
		id     string
		status int
		msg    string
	}{
		{"nope", 404, "job nope not found"},
		{"job01", 409, "resubmit job job01: cannot go from running to queued"},
		{"job02", 422, "job job02 cannot be resubmitted: it has no clone_url, sha"},
	}
	for _, tt := range tests {
		resp := r.do(t, "POST", "/jobs/"+tt.id+"/resubmit")
		expect(t, resp, tt.status)
		if got := resp.errorText(t); got != tt.msg {
			t.Errorf("%s: error %q, want %q", tt.id, got, tt.msg)
		}
	}
	// The 404 and 422 were decided without asking the dispatcher.
	if calls := r.ops.Calls(); !slices.Equal(calls, []string{"resubmit job01"}) {
		t.Errorf("operations called: %v", calls)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	seedJob(t, r.store, 1, func(j *ci.Job) { j.Status = ci.StatusRunning })
	resp := r.do(t, "POST", "/jobs/job01/cancel")
	expect(t, resp, http.StatusOK)
	var j ci.Job
	resp.decode(t, &j)
	if j.ID != "job01" || j.Status != ci.StatusCancelled {
		t.Fatalf("cancelled job = %+v", j)
	}
	resp = r.do(t, "POST", "/jobs/job01/cancel")
	expect(t, resp, http.StatusConflict)
	if got := resp.errorText(t); got != "job job01 already finished (cancelled)" {
		t.Errorf("error = %q", got)
	}
	expect(t, r.do(t, "POST", "/jobs/nope/cancel"), http.StatusNotFound)
}

func TestRunnersAndDrain(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	for _, id := range []string{"r2", "r1"} {
		if err := r.store.PutRunner(context.Background(), ci.Runner{ID: id, Address: id + ":7443",
			Capacity: 2, State: ci.RunnerActive, LastHeartbeat: base}); err != nil {
			t.Fatal(err)
		}
	}
	resp := r.do(t, "POST", "/runners/r1/drain")
	expect(t, resp, http.StatusAccepted)
	var d api.DrainBody
	resp.decode(t, &d)
	if d != (api.DrainBody{RunnerID: "r1", State: ci.RunnerDraining}) {
		t.Errorf("drain answer %+v", d)
	}

	resp = r.do(t, "GET", "/runners")
	expect(t, resp, http.StatusOK)
	var list api.RunnerList
	resp.decode(t, &list)
	if len(list.Runners) != 2 || list.Runners[0].ID != "r1" || list.Runners[0].State != ci.RunnerDraining ||
		list.Runners[1].State != ci.RunnerActive {
		t.Errorf("runners = %+v", list.Runners)
	}
	resp = r.do(t, "POST", "/runners/nope/drain")
	expect(t, resp, http.StatusNotFound)
	if got := resp.errorText(t); got != "runner nope not found" {
		t.Errorf("error = %q", got)
	}
}

func TestRunnersEmptyIsAList(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	resp := r.do(t, "GET", "/runners")
	expect(t, resp, http.StatusOK)
	if string(resp.body) != "{\"runners\":[]}\n" {
		t.Errorf("body %q", resp.body)
	}
}

// finishedOps refuses every cancel the way internal/dispatch does: its own
// sentinel, wrapping ci.ErrIllegalTransition, with the job beside it.
type finishedOps struct{ *apitest.Ops }

var errJobFinished = fmt.Errorf("job already finished: %w", ci.ErrIllegalTransition)

func (finishedOps) Cancel(_ context.Context, id string) (ci.Job, error) {
	return ci.Job{ID: id, Status: ci.StatusSuccess}, fmt.Errorf("cancel job %s: %w (status success)", id, errJobFinished)
}

func TestCancelRefusedByTheDispatcher(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(d *api.Deps) { d.Ops = finishedOps{} })
	resp := r.do(t, "POST", "/jobs/job01/cancel")
	expect(t, resp, http.StatusConflict)
	if got := resp.errorText(t); got != "job job01 already finished (success)" {
		t.Errorf("error = %q", got)
	}
}
