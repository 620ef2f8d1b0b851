package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/testenv"
)

func TestDevFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--runners", "0"},
		{"--executor", "podman"},
		{"extra"},
		{"--nope"},
		{"--github-token-file", "t", "--github-app-id", "1", "--github-app-key-file", "k"},
		{"--github-app-id", "1"},
		{"--github-app-key-file", "k"},
		{"--cache-max-bytes", "lots"},
		{"--cache-max-bytes", "0"},
	} {
		var stderr bytes.Buffer
		err := runDev(context.Background(), args, &bytes.Buffer{}, &stderr)
		var exit exitError
		if !errors.As(err, &exit) || exit != 2 {
			t.Errorf("%v: err = %v, want exit status 2", args, err)
		}
		if !strings.Contains(stderr.String(), "Usage: narwhal dev") {
			t.Errorf("%v: no usage on stderr:\n%s", args, stderr.String())
		}
	}
	o, run, err := parseDev([]string{"--webhook-secret-file", "a", "--webhook-secret-file", "b,c", "--cancel-superseded-pushes",
		"--cache-max-bytes", "512m"}, &bytes.Buffer{})
	if !run || err != nil || !slices.Equal(o.cfg.WebhookSecretFiles, []string{"a", "b,c"}) || !o.cfg.CancelSupersededPushes ||
		o.cfg.CacheMaxBytes != 512<<20 {
		t.Errorf("parseDev: %+v, %v, %v", o.cfg, run, err)
	}
	var stderr bytes.Buffer
	if err := runDev(context.Background(), []string{"-h"}, &bytes.Buffer{}, &stderr); err != nil || !strings.Contains(stderr.String(), "--demo") {
		t.Errorf("-h: %v\n%s", err, stderr.String())
	}
}

func TestDevGitHubFlags(t *testing.T) {
	o, run, err := parseDev([]string{"--github-app-id", "7", "--github-app-key-file", "k.pem", "--github-app-installation", "9",
		"--github-url", "https://ghe.example.com/api/v3/", "--git-ca-file", "ca.pem"}, &bytes.Buffer{})
	g := o.cfg.GitHub
	if !run || err != nil || g.AppID != 7 || g.AppKeyFile != "k.pem" || g.InstallationID != 9 ||
		g.URL != "https://ghe.example.com/api/v3/" || o.cfg.GitCAFile != "ca.pem" {
		t.Errorf("parseDev = %+v, %v, %v", o.cfg, run, err)
	}
}

// demo runs `narwhal dev --demo` with extra flags and returns its output.
func demo(t *testing.T, flags ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := append([]string{"--addr", "127.0.0.1:0", "--dir", filepath.Join(t.TempDir(), ".narwhal"), "--demo"}, flags...)
	var stdout, stderr bytes.Buffer
	err := runDev(ctx, args, &stdout, &stderr)
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	return stdout.String(), err
}

// TestDevDemoOnHost runs the demo on the host executor: examples/hello
// without its service goes through the whole system and succeeds.
func TestDevDemoOnHost(t *testing.T) {
	t.Parallel()
	out, err := demo(t, "--executor", "host", "--runners", "1")
	if err != nil {
		t.Fatalf("narwhal dev --demo: %v", err)
	}
	for _, want := range []string{"executor   host", "without its service", "build  | hello from narwhal", "demo: success"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// TestDevDemoInDocker runs the demo as `make run` does when Docker answers:
// examples/hello as it is, its service included, in containers.
func TestDevDemoInDocker(t *testing.T) {
	t.Parallel()
	testenv.Image(t) // the test stack also seeds examples/hello's busybox:1.36
	out, err := demo(t, "--executor", "docker", "--runners", "1")
	if err != nil {
		t.Fatalf("narwhal dev --demo: %v", err)
	}
	for _, want := range []string{"executor   docker", "build  | hello from narwhal", "test   | pong",
		"\nSTEP    STATUS   EXIT  DURATION  NOTE\n", "failure allowed", "demo: success"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// The last step's log comes before the summary, as in `narwhal exec`.
	if last, end := strings.LastIndex(out, "report | "), strings.Index(out, "pipeline success in"); last < 0 || end < last {
		t.Errorf("the summary (at %d) comes before the last log line (at %d)", end, last)
	}
}
