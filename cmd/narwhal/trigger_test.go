package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/intake"
	"github.com/narwhal-ci/narwhal/internal/queue/memq"
	"github.com/narwhal-ci/narwhal/internal/store/sqlite"
	"github.com/narwhal-ci/narwhal/internal/webhook"
)

const triggerSecret = "narwhal-test-secret"

// agentServer runs the webhook handler behind an httptest server.
func agentServer(t *testing.T) (*httptest.Server, *sqlite.Store) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	q := memq.New(memq.Config{})
	log := slog.New(slog.DiscardHandler)
	srv := httptest.NewServer(webhook.NewHandler(webhook.Deps{Intake: &intake.Intake{Store: st, Queue: q, Logger: log},
		Secrets: webhook.SecretLines(triggerSecret), Logger: log}))
	t.Cleanup(func() { srv.Close(); q.Close(); st.Close() })
	return srv, st
}

// gitRepo makes a repository with one commit on main and returns its path.
func gitRepo(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is required: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "hello")
	run := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("git", "init", "-q", "-b", "main", dir).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	run("-c", "user.name=Ada Lovelace", "-c", "user.email=ada@example.test",
		"commit", "-q", "--allow-empty", "-m", "Add narwhal.yml\n\nWith a test step.")
	return dir
}

func gitHead(t *testing.T, dir string) string {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func trigger(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := runTrigger(context.Background(), args, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func TestTriggerPushFromLocalRepo(t *testing.T) {
	t.Parallel()
	srv, st := agentServer(t)
	dir := gitRepo(t)
	sha := gitHead(t, dir)
	out, _, err := trigger(t, "--repo", dir, "--url", srv.URL+"/webhook", "--secret", triggerSecret, "--delivery", "d-1")
	if err != nil {
		t.Fatalf("trigger: %v\n%s", err, out)
	}
	jobID := ci.JobID("local/hello", sha, ci.EventPush, 0)
	if !strings.Contains(out, "webhook: 202 Accepted (delivery d-1)") || !strings.Contains(out, "job "+jobID+" is queued") ||
		!strings.Contains(out, "follow it: narwhal logs -f "+jobID) {
		t.Fatalf("output:\n%s\nwant 202, job %s queued and how to follow it", out, jobID)
	}
	j, err := st.GetJob(t.Context(), jobID)
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dir)
	if j.Repo != "local/hello" || j.CloneURL != "file://"+abs || j.SHA != sha || j.Ref != "refs/heads/main" ||
		j.Branch != "main" || j.Author != "Ada Lovelace" || j.Message != "Add narwhal.yml\n\nWith a test step." {
		t.Fatalf("stored job %+v", j)
	}
	// The same delivery again is a duplicate.
	out, _, err = trigger(t, "--repo", dir, "--url", srv.URL, "--secret", triggerSecret, "--delivery", "d-1")
	if err != nil || !strings.Contains(out, "job "+jobID+" already exists") {
		t.Fatalf("redelivery: %v\n%s", err, out)
	}
}

func TestTriggerPullRequest(t *testing.T) {
	t.Parallel()
	srv, st := agentServer(t)
	dir := gitRepo(t)
	out, _, err := trigger(t, "--repo", dir, "--event", "pull_request", "--branch", "feature", "--pr", "7",
		"--url", srv.URL, "--secret", triggerSecret)
	if err != nil {
		t.Fatalf("trigger: %v\n%s", err, out)
	}
	j, err := st.GetJob(t.Context(), ci.JobID("local/hello", gitHead(t, dir), ci.EventPullRequest, 7))
	if err != nil {
		t.Fatal(err)
	}
	if j.PR != 7 || j.Ref != "refs/pull/7/head" || j.Branch != "main" || j.Fork || j.Message != "Add narwhal.yml" {
		t.Fatalf("stored job %+v", j)
	}
}

func TestTriggerRepoURL(t *testing.T) {
	t.Parallel()
	srv, st := agentServer(t)
	sha := "6f1d0c3b8a2e4f5d9c7b1a0e3d2c4b5a69788796"
	for _, repo := range []string{"https://github.com/acme/app.git", "git@github.com:acme/app.git"} {
		out, _, err := trigger(t, "--repo", repo, "--sha", sha, "--url", srv.URL, "--secret", triggerSecret)
		if err != nil {
			t.Fatalf("%s: %v\n%s", repo, err, out)
		}
	}
	j, err := st.GetJob(t.Context(), ci.JobID("acme/app", sha, ci.EventPush, 0))
	if err != nil {
		t.Fatal(err)
	}
	if j.CloneURL != "https://github.com/acme/app.git" || j.Branch != "main" || len(j.Deliveries) != 2 {
		t.Fatalf("stored job %+v", j)
	}
}

func TestTriggerFailures(t *testing.T) {
	t.Parallel()
	srv, st := agentServer(t)
	dir := gitRepo(t)
	var exit exitError
	out, _, err := trigger(t, "--repo", dir, "--url", srv.URL, "--secret", "wrong")
	if !errors.As(err, &exit) || exit != 1 || !strings.Contains(out, "401") {
		t.Fatalf("wrong secret: %v\n%s", err, out)
	}
	if page, _ := st.ListJobs(t.Context(), ci.JobFilter{}); len(page.Jobs) != 0 {
		t.Fatalf("a rejected webhook stored %d jobs", len(page.Jobs))
	}
	cases := [][]string{
		{"--repo", dir, "--secret", "s"},                                        // no URL
		{"--repo", dir, "--url", srv.URL, "--event", "issues", "--secret", "s"}, // bad event
	}
	for _, args := range cases {
		if _, stderr, err := trigger(t, args...); !errors.As(err, &exit) || exit != 2 || !strings.Contains(stderr, "Usage") {
			t.Fatalf("%v: %v\n%s", args, err, stderr)
		}
	}
	if _, _, err := trigger(t, "--repo", "https://github.com/acme/app", "--url", srv.URL, "--secret", "s"); err == nil ||
		!strings.Contains(err.Error(), "--sha") {
		t.Fatalf("URL without --sha: %v", err)
	}
	if _, _, err := trigger(t, "--repo", "https://github.com/acme/app", "--sha", "6f1d0c3", "--url", srv.URL, "--secret", "s"); err == nil ||
		!strings.Contains(err.Error(), "40 hex digits") {
		t.Fatalf("a short --sha: %v", err)
	}
	if _, _, err := trigger(t, "--repo", t.TempDir(), "--url", srv.URL, "--secret", "s"); err == nil {
		t.Fatal("a directory that is not a repository was accepted")
	}
}

func TestTriggerHelp(t *testing.T) {
	t.Parallel()
	_, stderr, err := trigger(t, "-h")
	if err != nil || !strings.Contains(stderr, "Examples:") || !strings.Contains(stderr, "--event") {
		t.Fatalf("-h: %v\n%s", err, stderr)
	}
}
