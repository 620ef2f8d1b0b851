package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/apiclient"
	"github.com/narwhal-ci/narwhal/internal/ci"
)

func TestJobsTable(t *testing.T) {
	t.Parallel()
	r := newAPIRig(t)
	r.job(t, 1, func(j *ci.Job) {
		j.Status = ci.StatusFailure
		j.CreatedAt = time.Now().Add(-3*time.Minute - 20*time.Second)
	})
	r.job(t, 2, func(j *ci.Job) { j.Repo = "acme/lib" })
	out, stderr, err := r.cli(t, runJobs)
	if err != nil || stderr != "" {
		t.Fatalf("jobs: %v, stderr %q", err, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[0], "CREATED") {
		t.Fatalf("table:\n%s", out)
	}
	if f := strings.Fields(lines[1]); len(f) < 8 || f[0] != "job01" || f[1] != "failure" || f[2]+" "+f[3] != "acme/app #1" ||
		f[5] != "6f1d0c3" || !strings.Contains(lines[1], "3m ago") {
		t.Errorf("row %q: want job01 failure acme/app #1 ... 6f1d0c3 3m ago", lines[1])
	}

	out, _, err = r.cli(t, runJobs, "--repo", "acme/lib", "--json")
	var page ci.JobPage
	if err != nil || json.Unmarshal([]byte(out), &page) != nil || len(page.Jobs) != 1 || page.Jobs[0].ID != "job02" {
		t.Errorf("jobs --repo acme/lib --json: %v\n%s", err, out)
	}
}

func TestJobsPagesThroughTheAPI(t *testing.T) {
	t.Parallel()
	r := newAPIRig(t)
	for n := 1; n <= 205; n++ {
		r.job(t, n, nil)
	}
	out, _, err := r.cli(t, runJobs, "--limit", "203", "--json")
	var page ci.JobPage
	if err != nil || json.Unmarshal([]byte(out), &page) != nil {
		t.Fatalf("jobs --limit 203: %v", err)
	}
	if len(page.Jobs) != 203 || page.Jobs[0].ID != "job205" || page.Jobs[202].ID != "job03" || page.Cursor == "" {
		t.Fatalf("%d jobs from %s to %s, cursor %q", len(page.Jobs), page.Jobs[0].ID, page.Jobs[len(page.Jobs)-1].ID, page.Cursor)
	}
	out, stderr, err := r.cli(t, runJobs, "--cursor", page.Cursor)
	if err != nil || stderr != "" || strings.Count(out, "\n") != 3 || !strings.Contains(out, "job02") || !strings.Contains(out, "job01") {
		t.Errorf("the rest: %v\n%s%s", err, out, stderr)
	}
	_, stderr, _ = r.cli(t, runJobs, "--limit", "2")
	if !strings.Contains(stderr, "(more: narwhal jobs --cursor ") {
		t.Errorf("no hint of more jobs: %q", stderr)
	}
}

func TestJobDetail(t *testing.T) {
	t.Parallel()
	r := newAPIRig(t)
	started := time.Now().Add(-2 * time.Minute)
	r.job(t, 1, func(j *ci.Job) {
		j.Status, j.Attempt, j.RunnerID, j.ParentID, j.Waiting = ci.StatusRunning, 2, "runner-1", "job00", ""
		j.StartedAt = started
		j.Steps = []ci.Step{{Name: "build", Status: "success", StartedAt: started, FinishedAt: started.Add(12 * time.Second)},
			{Name: "test", Status: "failure", ExitCode: 3, StartedAt: started.Add(12 * time.Second), FinishedAt: started.Add(75 * time.Second)}}
	})
	out, _, err := r.cli(t, runJob, "job01")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"job      job01\n", "running (attempt 2)", "6f1d0c3 on main (push)", "message  Add narwhal.yml\n",
		"runner   runner-1", "parent   job00", "(2m ago)", "STEP   STATUS   EXIT  DURATION", "build  success  0     12s",
		"test   failure  3     1m03s"} {
		if !strings.Contains(out, want) {
			t.Errorf("job output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "waiting") || strings.Contains(out, "finished") {
		t.Errorf("empty fields shown:\n%s", out)
	}
	out, _, err = r.cli(t, runJob, "job01", "--json") // a flag after the ID
	var j ci.Job
	if err != nil || json.Unmarshal([]byte(out), &j) != nil || len(j.Steps) != 2 {
		t.Errorf("job --json: %v\n%s", err, out)
	}
	_, _, err = r.cli(t, runJob, "nope")
	if want := "404 job nope not found (a short ID needs at least 6 characters)"; err == nil || err.Error() != want {
		t.Errorf("unknown job: err %v, want %s", err, want)
	}
}

func TestLogsPrintsTheWholeLog(t *testing.T) {
	t.Parallel()
	r := newAPIRig(t)
	r.job(t, 1, func(j *ci.Job) { j.Status = ci.StatusSuccess })
	var want strings.Builder
	for seq := range 5 { // 5 × 100 KiB: several API reads
		chunk := strings.Repeat(fmt.Sprintf("line of chunk %d é\n", seq), 100<<10/20)
		want.WriteString(chunk)
		if err := r.logs.PutChunk(context.Background(), "job01", seq, []byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	r.logs.Finish(context.Background(), "job01")
	out, stderr, err := r.cli(t, runLogs, "job01")
	if err != nil || stderr != "" || out != want.String() {
		t.Errorf("logs: %v, stderr %q, %d bytes out of %d, equal %v", err, stderr, len(out), want.Len(), out == want.String())
	}
}

func TestLogsWithoutFollowSaysTheLogContinues(t *testing.T) {
	t.Parallel()
	r := newAPIRig(t)
	r.job(t, 1, func(j *ci.Job) { j.Status = ci.StatusRunning })
	r.logs.PutChunk(context.Background(), "job01", 0, []byte("so far\n"))
	out, stderr, err := r.cli(t, runLogs, "job01")
	if err != nil || out != "so far\n" || stderr != "(the log continues: narwhal logs -f job01)\n" {
		t.Errorf("logs: %v, out %q, stderr %q", err, out, stderr)
	}
}

func TestLogsFollowUntilComplete(t *testing.T) {
	t.Parallel()
	r := newAPIRig(t)
	r.job(t, 1, func(j *ci.Job) { j.Status = ci.StatusRunning })
	r.logs.PutChunk(context.Background(), "job01", 0, []byte("step 1\n"))
	go func() {
		for seq := 1; seq <= 3; seq++ {
			time.Sleep(100 * time.Millisecond)
			r.logs.PutChunk(context.Background(), "job01", seq, []byte(fmt.Sprintf("step %d\n", seq+1)))
		}
		time.Sleep(1200 * time.Millisecond) // longer than the server's follow wait: the CLI asks again
		ci.Update(context.Background(), r.store, "job01", func(j *ci.Job) error {
			j.Status, j.Error = ci.StatusFailure, "step test failed"
			return nil
		})
		r.logs.Finish(context.Background(), "job01")
	}()
	out, stderr, err := r.cli(t, runLogs, "job01", "-f")
	if err != exitError(1) || stderr != "job job01: failure: step test failed\n" || out != "step 1\nstep 2\nstep 3\nstep 4\n" {
		t.Errorf("logs -f: %v, out %q, stderr %q; want exit status 1 and the final status", err, out, stderr)
	}
}

func TestLogsFollowOfASuccessEndsWithItsStatus(t *testing.T) {
	t.Parallel()
	r := newAPIRig(t)
	r.job(t, 1, func(j *ci.Job) { j.Status = ci.StatusSuccess })
	r.logs.PutChunk(context.Background(), "job01", 0, []byte("all good\n"))
	r.logs.Finish(context.Background(), "job01")
	out, stderr, err := r.cli(t, runLogs, "-f", "job01")
	if err != nil || out != "all good\n" || stderr != "job job01: success\n" {
		t.Errorf("logs -f: %v, out %q, stderr %q", err, out, stderr)
	}
}

func TestLogsFollowStopsOnInterrupt(t *testing.T) {
	t.Parallel()
	r := newAPIRig(t)
	r.job(t, 1, func(j *ci.Job) { j.Status = ci.StatusRunning })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var out strings.Builder
	err := runLogs(ctx, []string{"--api", r.srv.URL, "--token", apiTestToken, "-f", "job01"}, &out, &out)
	if err != exitError(130) {
		t.Errorf("interrupted follow: err %v, want exit status 130", err)
	}
}

func TestResubmitAndCancel(t *testing.T) {
	t.Parallel()
	r := newAPIRig(t)
	r.job(t, 1, func(j *ci.Job) { j.Status = ci.StatusFailure })
	r.job(t, 2, func(j *ci.Job) { j.Status = ci.StatusRunning })

	out, _, err := r.cli(t, runResubmit, "job01")
	if err != nil || !strings.HasPrefix(out, "resubmitted job01 as ") || !strings.Contains(out, "(queued)\nfollow it: narwhal logs -f ") {
		t.Errorf("resubmit: %v\n%s", err, out)
	}
	out, _, err = r.cli(t, runResubmit, "--json", "job01")
	var j ci.Job
	if err != nil || json.Unmarshal([]byte(out), &j) != nil || j.ParentID != "job01" {
		t.Errorf("resubmit --json: %v\n%s", err, out)
	}

	out, _, err = r.cli(t, runCancel, "job02")
	if err != nil || out != "job job02 is cancelled\n" {
		t.Errorf("cancel: %v, %q", err, out)
	}
	_, _, err = r.cli(t, runCancel, "job02")
	if err == nil || err.Error() != "409 job job02 already finished (cancelled)" {
		t.Errorf("second cancel: %v", err)
	}
	_, _, err = r.cli(t, runResubmit, "nope")
	var ae *apiclient.Error
	if !errors.As(err, &ae) || ae.Status != 404 {
		t.Errorf("resubmit of an unknown job: %v", err)
	}
}

func TestVersionFlags(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-v"}, {"version"}} {
		var out bytes.Buffer
		if err := dispatch(context.Background(), args, &out, &out); err != nil || out.String() != "narwhal "+version+"\n" {
			t.Errorf("narwhal %s: %v, %q", args[0], err, out.String())
		}
	}
}

func TestLogsOfOneStep(t *testing.T) {
	t.Parallel()
	r := newAPIRig(t)
	r.job(t, 1, func(j *ci.Job) { j.Status = ci.StatusSuccess })
	r.logs.PutChunk(context.Background(), "job01", 0, []byte("build | compiled\ntest | ok\nbuild | linked\n"))
	r.logs.Finish(context.Background(), "job01")
	out, stderr, err := r.cli(t, runLogs, "--step", "build", "job01")
	if err != nil || stderr != "" || out != "build | compiled\nbuild | linked\n" {
		t.Errorf("logs --step build: %v, out %q, stderr %q", err, out, stderr)
	}
}
