package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/api"
	"github.com/narwhal-ci/narwhal/internal/ci"
)

func TestLogs(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	seedJob(t, r.store, 1, func(j *ci.Job) { j.Status = ci.StatusSuccess })
	seedJob(t, r.store, 2, func(j *ci.Job) { j.Status = ci.StatusRunning })
	seedJob(t, r.store, 3, nil)                                               // queued, no log yet
	seedJob(t, r.store, 4, func(j *ci.Job) { j.Status = ci.StatusCancelled }) // ended without a log
	seedJob(t, r.store, 5, func(j *ci.Job) { j.Status = ci.StatusSuccess; j.Attempt = 3 })
	seedJob(t, r.store, 6, func(j *ci.Job) { j.Status = ci.StatusSuccess; j.Attempt = 2 })
	r.putLog(t, "job01", true, "hello\n", "world\n")
	r.putLog(t, "job05", true, "first attempt\n")    // attempt 3 adopted the work of attempt 1
	r.putLog(t, "job05.2", true, "second attempt\n") // the latest attempt with a log wins
	r.putLog(t, "job06", true, "adopted\n")
	r.putLog(t, "job02", false, "caf\xc3\xa9 ", "\xe2\x9c") // a cut-off ✓ at the end
	tests := []struct {
		target string
		want   api.LogChunk
	}{
		{"/jobs/job01/logs", api.LogChunk{Data: "hello\nworld\n", Offset: 12, Complete: true}},
		{"/jobs/job01/logs?offset=3&limit=5", api.LogChunk{Data: "lo\nwo", Offset: 8}},
		{"/jobs/job01/logs?offset=12", api.LogChunk{Offset: 12, Complete: true}},
		{"/jobs/job01/logs?offset=99", api.LogChunk{Offset: 99, Complete: true}},
		{"/jobs/job02/logs", api.LogChunk{Data: "café ", Offset: 6}},
		{"/jobs/job02/logs?offset=6&limit=1", api.LogChunk{Data: "\xe2", Offset: 7}},
		{"/jobs/job03/logs", api.LogChunk{}},
		{"/jobs/job04/logs?offset=0", api.LogChunk{Complete: true}},
		{"/jobs/job05/logs", api.LogChunk{Data: "second attempt\n", Offset: 15, Complete: true}},
		{"/jobs/job06/logs", api.LogChunk{Data: "adopted\n", Offset: 8, Complete: true}},
	}
	for _, tt := range tests {
		resp := r.do(t, "GET", tt.target)
		expect(t, resp, http.StatusOK)
		var got api.LogChunk
		resp.decode(t, &got)
		if tt.want.Data == "\xe2" { // JSON carries invalid UTF-8 as U+FFFD
			tt.want.Data = "\ufffd"
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s = %+v, want %+v", tt.target, got, tt.want)
		}
	}
}

func TestLogsErrors(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	seedJob(t, r.store, 1, nil)
	for target, status := range map[string]int{
		"/jobs/nope/logs":               http.StatusNotFound,
		"/jobs/job01/logs?offset=-1":    http.StatusBadRequest,
		"/jobs/job01/logs?limit=0":      http.StatusBadRequest,
		"/jobs/job01/logs?limit=524289": http.StatusBadRequest,
		"/jobs/job01/logs?follow=maybe": http.StatusBadRequest,
		"/jobs/job01/logs?since=1":      http.StatusBadRequest,
	} {
		resp := r.do(t, "GET", target)
		if resp.status != status {
			t.Errorf("%s: status %d, want %d (%s)", target, resp.status, status, resp.body)
		}
	}
}

func TestLogsFollowReturnsWhenDataArrives(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil) // waits up to 2 s, polls every 10 ms
	seedJob(t, r.store, 1, func(j *ci.Job) { j.Status = ci.StatusRunning })
	r.putLog(t, "job01", false, "one\n")
	go func() {
		time.Sleep(150 * time.Millisecond)
		r.logs.PutChunk(context.Background(), "job01", 1, []byte("two\n"))
	}()
	start := time.Now()
	resp := r.do(t, "GET", "/jobs/job01/logs?offset=4&follow=1")
	elapsed := time.Since(start)
	expect(t, resp, http.StatusOK)
	var got api.LogChunk
	resp.decode(t, &got)
	if want := (api.LogChunk{Data: "two\n", Offset: 8}); !reflect.DeepEqual(got, want) {
		t.Fatalf("follow = %+v, want %+v", got, want)
	}
	if elapsed < 100*time.Millisecond || elapsed > 1500*time.Millisecond {
		t.Errorf("follow answered after %v: want soon after the data arrived (150 ms)", elapsed)
	}
}

func TestLogsFollowReturnsWhenLogCompletes(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	seedJob(t, r.store, 1, func(j *ci.Job) { j.Status = ci.StatusRunning })
	r.putLog(t, "job01", false, "all\n")
	go func() {
		time.Sleep(100 * time.Millisecond)
		r.logs.Finish(context.Background(), "job01")
	}()
	resp := r.do(t, "GET", "/jobs/job01/logs?offset=4&follow") // a bare follow is true
	var got api.LogChunk
	resp.decode(t, &got)
	if want := (api.LogChunk{Offset: 4, Complete: true}); !reflect.DeepEqual(got, want) {
		t.Fatalf("follow = %+v, want %+v", got, want)
	}
}

func TestLogsFollowTimesOutEmpty(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(d *api.Deps) { d.FollowWait = 200 * time.Millisecond })
	seedJob(t, r.store, 1, nil) // queued: no log yet
	start := time.Now()
	resp := r.do(t, "GET", "/jobs/job01/logs?offset=0&follow=1")
	elapsed := time.Since(start)
	var got api.LogChunk
	resp.decode(t, &got)
	if !reflect.DeepEqual(got, api.LogChunk{}) {
		t.Errorf("follow = %+v, want an empty, incomplete chunk at 0", got)
	}
	if elapsed < 200*time.Millisecond || elapsed > time.Second {
		t.Errorf("follow took %v, want about the 200 ms wait", elapsed)
	}
}

func TestLogsFollowStopsAtTheRequestDeadline(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(d *api.Deps) { d.FollowWait = time.Minute })
	seedJob(t, r.store, 1, nil)
	// A Lambda's context ends at its timeout; the follow answers a second
	// before it rather than being cut off.
	ctx, cancel := context.WithTimeout(context.Background(), 1300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "/jobs/job01/logs?follow=1", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	start := time.Now()
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, req)
	if elapsed := time.Since(start); rec.Code != http.StatusOK || elapsed > time.Second {
		t.Errorf("status %d after %v; want 200 within the deadline minus a second", rec.Code, elapsed)
	}
}
