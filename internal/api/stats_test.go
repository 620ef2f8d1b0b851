package api_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/api"
	"github.com/narwhal-ci/narwhal/internal/ci"
)

type depth struct {
	n   int
	err error
}

func (d depth) Depth(_ context.Context, queue string) (int, error) {
	if queue != ci.QueueJobs {
		return 0, errors.New("unexpected queue " + queue)
	}
	return d.n, d.err
}

func TestStats(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(d *api.Deps) { d.Queue = depth{n: 4} })
	// Ten jobs waited 1..10 s; one has not started.
	statuses := []ci.Status{ci.StatusSuccess, ci.StatusSuccess, ci.StatusSuccess, ci.StatusFailure, ci.StatusError,
		ci.StatusCancelled, ci.StatusRunning, ci.StatusSuccess, ci.StatusSuccess, ci.StatusSuccess}
	for i, st := range statuses {
		seedJob(t, r.store, i+1, func(j *ci.Job) {
			j.Status, j.StartedAt = st, j.CreatedAt.Add(time.Duration(i+1)*time.Second)
		})
	}
	seedJob(t, r.store, 11, nil)
	runners := []ci.Runner{
		{ID: "a", Capacity: 4, Running: 3, State: ci.RunnerActive},
		{ID: "b", Capacity: 4, Running: 1, State: ci.RunnerDraining},
		{ID: "c", Capacity: 8, Running: 0, State: ci.RunnerOffline},
	}
	for _, rn := range runners {
		if err := r.store.PutRunner(context.Background(), rn); err != nil {
			t.Fatal(err)
		}
	}
	resp := r.do(t, "GET", "/stats")
	expect(t, resp, http.StatusOK)
	var s api.Stats
	resp.decode(t, &s)

	if s.QueueDepth == nil || *s.QueueDepth != 4 {
		t.Errorf("queue depth = %v, want 4", s.QueueDepth)
	}
	if s.Jobs.Sample != 11 || s.Jobs.ByStatus[ci.StatusSuccess] != 6 || s.Jobs.ByStatus[ci.StatusQueued] != 1 {
		t.Errorf("jobs = %+v", s.Jobs)
	}
	if w := s.Jobs.WaitSeconds; w == nil || *w != (api.Percentiles{Count: 10, P50: 5, P90: 9, P99: 10}) {
		t.Errorf("wait = %+v, want 10 samples, p50 5 s, p90 9 s, p99 10 s", w)
	}
	if sr := s.Jobs.SuccessRate; sr == nil || *sr != 0.75 { // 6 of 8; cancelled and running do not count
		t.Errorf("success rate = %v, want 0.75", sr)
	}
	rs := s.Runners
	if rs.Total != 3 || rs.ByState[ci.RunnerOffline] != 1 || rs.Capacity != 8 || rs.Running != 4 ||
		rs.Utilisation == nil || *rs.Utilisation != 0.5 {
		t.Errorf("runners = %+v, want capacity 8 running 4 utilisation 0.5 (offline not counted)", rs)
	}
}

func TestStatsWithoutDataOrQueue(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	resp := r.do(t, "GET", "/stats")
	expect(t, resp, http.StatusOK)
	want := `{"jobs":{"sample":0,"by_status":{}},"runners":{"total":0,"by_state":{},"capacity":0,"running":0}}` + "\n"
	if string(resp.body) != want {
		t.Errorf("stats = %s, want %s", resp.body, want)
	}

	broken := newRig(t, func(d *api.Deps) { d.Queue = depth{err: errors.New("broker down")} })
	resp = broken.do(t, "GET", "/stats")
	expect(t, resp, http.StatusOK)
	var s api.Stats
	resp.decode(t, &s)
	if s.QueueDepth != nil || s.QueueError != "queue depth unavailable: broker down" {
		t.Errorf("stats with a broken queue = %s", resp.body)
	}
}

func TestStatsWindow(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(d *api.Deps) { d.StatsWindow = 2 })
	for n := 1; n <= 3; n++ {
		seedJob(t, r.store, n, nil)
	}
	var s api.Stats
	r.do(t, "GET", "/stats").decode(t, &s)
	if s.Jobs.Sample != 2 {
		t.Errorf("sample = %d, want the window of 2", s.Jobs.Sample)
	}
}
