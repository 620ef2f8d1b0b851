package api_test

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/api"
	"github.com/narwhal-ci/narwhal/internal/ci"
)

// TestStepLogs: ?step= keeps one step's lines with the offsets of the whole
// log, a read that cuts a line leaves it for the next, and raw=1 downloads
// the log (or a step's lines without their prefix) as text.
func TestStepLogs(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	seedJob(t, r.store, 1, func(j *ci.Job) { j.Status = ci.StatusSuccess })
	seedJob(t, r.store, 2, func(j *ci.Job) { j.Status = ci.StatusRunning })
	log := "build | compiling\ntest | ok 1\nbuild | done\ntest | ok 2\n"
	r.putLog(t, "job01", true, log[:20], log[20:])
	r.putLog(t, "job02", false, "test | ok 1\ntest | cut")
	seedJob(t, r.store, 3, func(j *ci.Job) { j.Status = ci.StatusRunning })
	r.putLog(t, "job03", false, "test | no newline yet")
	for target, want := range map[string]api.LogChunk{
		"/jobs/job01/logs?step=test":           {Data: "test | ok 1\ntest | ok 2\n", Offset: int64(len(log)), Complete: true},
		"/jobs/job01/logs?step=build&limit=25": {Data: "build | compiling\n", Offset: 18},
		"/jobs/job01/logs?step=deploy":         {Offset: int64(len(log)), Complete: true},
		"/jobs/job02/logs?step=test":           {Data: "test | ok 1\n", Offset: 12},
	} {
		resp := r.do(t, "GET", target)
		expect(t, resp, http.StatusOK)
		var got api.LogChunk
		resp.decode(t, &got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %+v, want %+v", target, got, want)
		}
	}
	for target, want := range map[string]string{
		"/jobs/job01/logs?raw=1":            log,
		"/jobs/job01/logs?raw=1&step=build": "compiling\ndone\n",
		"/jobs/job02/logs?raw=1":            "test | ok 1\ntest | cut", // a snapshot of a running job
	} {
		resp := r.do(t, "GET", target)
		if resp.status != http.StatusOK || string(resp.body) != want ||
			resp.header.Get("Content-Type") != "text/plain; charset=utf-8" ||
			!strings.HasPrefix(resp.header.Get("Content-Disposition"), "attachment; filename=") {
			t.Errorf("%s: %d %q %v", target, resp.status, resp.body, resp.header)
		}
	}
	for _, target := range []string{"/jobs/job01/logs?step=a+%7C+b", "/jobs/job01/logs?raw=maybe"} {
		expect(t, r.do(t, "GET", target), http.StatusBadRequest)
	}
	expect(t, r.do(t, "GET", "/jobs/job09/logs?raw=1"), http.StatusNotFound)
}

// TestLogTimes: ?times=1 gives each line the time its chunk was stored,
// with or without a step filter; without it there are none.
func TestLogTimes(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	seedJob(t, r.store, 1, func(j *ci.Job) { j.Status = ci.StatusSuccess })
	before := time.Now().Add(-time.Second).UnixMilli()
	r.putLog(t, "job01", true, "build | a\ntest | b\n", "build | c\n")
	after := time.Now().Add(time.Second).UnixMilli()
	for target, lines := range map[string]int{"/jobs/job01/logs?times=1": 3, "/jobs/job01/logs?times=1&step=build": 2} {
		var got api.LogChunk
		resp := r.do(t, "GET", target)
		expect(t, resp, http.StatusOK)
		resp.decode(t, &got)
		if len(got.Times) != lines {
			t.Fatalf("%s: %d times for %q", target, len(got.Times), got.Data)
		}
		for _, ms := range got.Times {
			if ms < before || ms > after {
				t.Errorf("%s: time %d outside [%d, %d]", target, ms, before, after)
			}
		}
	}
	var plain api.LogChunk
	r.do(t, "GET", "/jobs/job01/logs").decode(t, &plain)
	if plain.Times != nil {
		t.Errorf("times without ?times=1: %v", plain.Times)
	}
}
