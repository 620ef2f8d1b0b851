package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/api"
	"github.com/narwhal-ci/narwhal/internal/ci"
)

func TestRunnersAndDrain(t *testing.T) {
	t.Parallel()
	r := newAPIRig(t)
	out, _, err := r.cli(t, runRunners)
	if err != nil || out != "no runners\n" {
		t.Errorf("runners with none: %v, %q", err, out)
	}
	for _, rn := range []ci.Runner{
		{ID: "r1", Address: "10.0.0.1:7443", Labels: []string{"linux", "docker"}, Capacity: 4, Running: 1,
			State: ci.RunnerActive, Version: "v0.3.0", LastHeartbeat: time.Now().Add(-20 * time.Second)},
		{ID: "r2", Address: "10.0.0.2:7443", Capacity: 2, State: ci.RunnerActive},
	} {
		if err := r.store.PutRunner(context.Background(), rn); err != nil {
			t.Fatal(err)
		}
	}
	out, stderr, err := r.cli(t, runDrain, "r2")
	if err != nil || stderr != "" || !strings.HasPrefix(out, "runner r2 is draining") {
		t.Errorf("drain: %v, %q, %q", err, out, stderr)
	}
	out, _, err = r.cli(t, runRunners)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) != 3 {
		t.Fatalf("runners: %v\n%s", err, out)
	}
	if f := strings.Fields(lines[1]); strings.Join(f, " ") != "r1 active 1/4 - linux,docker v0.3.0 20s ago 10.0.0.1:7443" {
		t.Errorf("row %q", lines[1])
	}
	if f := strings.Fields(lines[2]); len(f) < 3 || f[0] != "r2" || f[1] != "draining" || f[2] != "0/2" {
		t.Errorf("row %q", lines[2])
	}
	out, _, err = r.cli(t, runRunners, "--json")
	var list api.RunnerList
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list.Runners) != 2 {
		t.Errorf("runners --json: %v\n%s", err, out)
	}
	if _, _, err := r.cli(t, runDrain, "nope"); err == nil || err.Error() != "404 runner nope not found" {
		t.Errorf("drain of an unknown runner: %v", err)
	}
}

// apiCommands are the commands of this file and jobs.go, with arguments that
// make each valid.
var apiCommands = []struct {
	name string
	run  func(context.Context, []string, io.Writer, io.Writer) error
	args []string
}{
	{"jobs", runJobs, nil}, {"job", runJob, []string{"job01"}}, {"logs", runLogs, []string{"job01"}},
	{"resubmit", runResubmit, []string{"job01"}}, {"cancel", runCancel, []string{"job01"}},
	{"runners", runRunners, nil}, {"drain", runDrain, []string{"r1"}}, {"artifacts", runArtifacts, []string{"job01"}},
}

func TestAPICommandsHelpAndUsage(t *testing.T) {
	t.Parallel()
	for _, c := range apiCommands {
		var stdout, stderr bytes.Buffer
		if err := c.run(context.Background(), []string{"-h"}, &stdout, &stderr); err != nil {
			t.Errorf("%s -h: %v", c.name, err)
		}
		help := stderr.String()
		if !strings.HasPrefix(help, "Usage: narwhal "+c.name) || !strings.Contains(help, "Examples:\n  narwhal "+c.name) ||
			!strings.Contains(help, "--api URL") {
			t.Errorf("%s -h:\n%s", c.name, help)
		}
		stderr.Reset()
		wrong := append([]string{"--api", "http://127.0.0.1:1"}, append(c.args, "extra")...)
		if err := c.run(context.Background(), wrong, &stdout, &stderr); err != exitError(2) ||
			!strings.HasPrefix(stderr.String(), "narwhal "+c.name+": ") {
			t.Errorf("%s with an extra argument: err %v, stderr %q", c.name, err, stderr.String())
		}
	}
}

// TestAPIAddressFromTheEnvironment cannot run in parallel: it sets the
// environment.
func TestAPIAddressFromTheEnvironment(t *testing.T) {
	t.Setenv("NARWHAL_API", "")
	t.Setenv("NARWHAL_TOKEN", "")
	for _, c := range apiCommands {
		var stdout, stderr bytes.Buffer
		err := c.run(context.Background(), c.args, &stdout, &stderr)
		if err != exitError(2) || !strings.Contains(stderr.String(), "no API address: set NARWHAL_API") {
			t.Errorf("%s without NARWHAL_API: err %v, stderr %q", c.name, err, stderr.String())
		}
	}

	r := newAPIRig(t)
	r.job(t, 1, nil)
	t.Setenv("NARWHAL_API", r.srv.URL)
	var stdout, stderr bytes.Buffer
	err := runJob(context.Background(), []string{"job01"}, &stdout, &stderr)
	if err == nil || err.Error() != "401 missing bearer token (set NARWHAL_TOKEN or pass --token)" {
		t.Errorf("without a token: %v", err)
	}
	t.Setenv("NARWHAL_TOKEN", apiTestToken)
	if err := runJob(context.Background(), []string{"job01"}, &stdout, &stderr); err != nil {
		t.Errorf("with NARWHAL_API and NARWHAL_TOKEN: %v", err)
	}
	err = runJob(context.Background(), []string{"--token", "wrong", "job01"}, &stdout, &stderr)
	if err == nil || err.Error() != "401 invalid bearer token" {
		t.Errorf("with a wrong --token: %v", err)
	}
}

func TestAPIAddressWithAPathPrefix(t *testing.T) {
	t.Parallel()
	r := newAPIRig(t)
	r.job(t, 1, nil)
	// An API Gateway stage puts the API under a prefix.
	staged := httptest.NewServer(http.StripPrefix("/prod", r.srv.Config.Handler))
	defer staged.Close()
	var stdout, stderr bytes.Buffer
	err := runJob(context.Background(), []string{"--api", staged.URL + "/prod/", "--token", apiTestToken, "job01"}, &stdout, &stderr)
	if err != nil || !strings.Contains(stdout.String(), "job01") {
		t.Errorf("job under /prod: %v\n%s", err, stdout.String())
	}
	err = runJob(context.Background(), []string{"--api", "127.0.0.1:8080", "job01"}, &stdout, &stderr)
	if err != exitError(2) || !strings.Contains(stderr.String(), "want http(s)://host") {
		t.Errorf("an address without a scheme: %v, %q", err, stderr.String())
	}
}

func TestRelativeTimes(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 10, 12, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		-time.Minute: "just now", 2 * time.Second: "just now", 42 * time.Second: "42s ago", 3*time.Minute + 59*time.Second: "3m ago",
		5 * time.Hour: "5h ago", 47 * time.Hour: "47h ago", 72 * time.Hour: "3d ago",
	} {
		if got := relTime(now.Add(-d), now); got != want {
			t.Errorf("relTime(-%v) = %q, want %q", d, got, want)
		}
	}
	if relTime(time.Time{}, now) != "-" {
		t.Error("a zero time is not -")
	}
	start := now.Add(-time.Hour)
	for end, want := range map[time.Time]string{
		start.Add(12 * time.Second): "12s", start.Add(187 * time.Second): "3m07s", start.Add(62 * time.Minute): "1h02m",
		{}: "1h00m", // still running: until now
	} {
		if got := elapsed(start, end, now); got != want {
			t.Errorf("elapsed to %v = %q, want %q", end, got, want)
		}
	}
	if elapsed(time.Time{}, now, now) != "-" {
		t.Error("not started is not -")
	}
}
