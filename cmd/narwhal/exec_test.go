package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// requireDocker skips (or fails in CI) when no Docker daemon answers.
func requireDocker(t *testing.T) string {
	t.Helper()
	img := testenv.Image(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := exec.CommandContext(ctx, "docker", "image", "inspect", img).Run(); err != nil {
		testenv.Missing(t, "Docker with the test image "+img)
	}
	return img
}

// run runs the CLI in dir and returns stdout, stderr and the exit status.
func run(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	t.Chdir(dir)
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := dispatch(ctx, args, &stdout, &stderr)
	code := 0
	var exit exitError
	switch {
	case errors.As(err, &exit):
		code = int(exit)
	case err != nil:
		t.Logf("error: %v", err)
		code = 1
	}
	return stdout.String(), stderr.String(), code
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// leftovers lists narwhal containers of exec runs of this process.
func leftovers(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-aq", "--filter", "label=io.narwhal.runner=exec-"+strconv.Itoa(os.Getpid())).Output()
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func TestExecExampleHello(t *testing.T) {
	requireDocker(t)
	stdout, stderr, code := run(t, "../../examples/hello", "exec")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"build  | hello from narwhal",    // output prefixed by its step
		"test   | pong",                  // the service reached by name
		"lint   | [narwhal] exit code 1", // the allowed failure says why
		"pipeline success",               // and does not fail the pipeline
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if !regexp.MustCompile(`(?m)^lint\s+failure\s+1\s+\S+\s+failure allowed$`).MatchString(stdout) {
		t.Errorf("summary lacks the lint row:\n%s", stdout)
	}
	if _, err := os.Stat("../../examples/hello/out"); err == nil {
		t.Error("exec wrote into the working tree; it must run in a copy")
	}
	if left := leftovers(t); left != "" {
		t.Errorf("containers left behind: %s", left)
	}
}

func TestExecFailingPipeline(t *testing.T) {
	img := requireDocker(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "narwhal.yml"), "image: "+img+`
steps:
  - name: check
    secrets: [TOKEN]
    commands:
      - echo "token is $TOKEN and env is $MODE"
      - exit 3
  - name: after
    commands: [echo never]
`)
	stdout, stderr, code := run(t, dir, "exec", "--secret", "TOKEN=hunter2hunter2", "--env", "MODE=ci")
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if strings.Contains(stdout, "hunter2hunter2") {
		t.Errorf("secret printed:\n%s", stdout)
	}
	for _, want := range []string{"token is ******** and env is ci", "pipeline failure"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if !regexp.MustCompile(`(?m)^check\s+failure\s+3\s`).MatchString(stdout) ||
		!regexp.MustCompile(`(?m)^after\s+skipped\s+-\s`).MatchString(stdout) {
		t.Errorf("summary rows wrong:\n%s", stdout)
	}
	if left := leftovers(t); left != "" {
		t.Errorf("containers left behind: %s", left)
	}
}

func TestExecHostExecutor(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "narwhal.yml"), `
image: unused
steps:
  - name: one
    commands: ["echo built > artefact"]
  - name: two
    commands: ["cat artefact"]
`)
	stdout, stderr, code := run(t, dir, "exec", "--executor", "host")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "two | built") {
		t.Errorf("steps did not share the workspace:\n%s", stdout)
	}
	if !strings.Contains(stderr, "no isolation") {
		t.Errorf("host executor did not warn:\n%s", stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "artefact")); err == nil {
		t.Error("exec wrote into the working tree")
	}
}

// TestExecRefAndEvent: --event tag and --ref select the steps a when.ref
// filter names; path filters match (exec knows no changed files).
func TestExecRefAndEvent(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "narwhal.yml"), `
image: unused
steps:
  - name: build
    commands: ["echo build"]
    when:
      path: ["src/**"]
  - name: publish
    commands: ["echo publishing"]
    when:
      event: tag
      ref: ["refs/tags/v*"]
`)
	stdout, stderr, code := run(t, dir, "exec", "--executor", "host", "--event", "tag", "--ref", "refs/tags/v1.0")
	if code != 0 || !strings.Contains(stdout, "| build\n") || !strings.Contains(stdout, "| publishing\n") {
		t.Fatalf("tag run: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	stdout, _, code = run(t, dir, "exec", "--executor", "host")
	if code != 0 || strings.Contains(stdout, "| publishing\n") || !strings.Contains(stdout, "| build\n") {
		t.Errorf("push run: exit %d, publish must be skipped:\n%s", code, stdout)
	}
}

// TestExecSaysCacheAndArtifactsAreRunnersOnly: a step's cache and artifacts
// are named in its log as not used by exec, and the step still runs.
func TestExecSaysCacheAndArtifactsAreRunnersOnly(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "narwhal.yml"), `
image: unused
steps:
  - name: build
    commands: ["mkdir -p dist && echo ok > dist/app.txt"]
    cache:
      key: go-{{ arch }}
      paths: [.cache]
    artifacts: {paths: [dist/*.txt]}
`)
	stdout, stderr, code := run(t, dir, "exec", "--executor", "host")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"cache go-{{ arch }}: not used by narwhal exec", "artifacts: not uploaded by narwhal exec"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the build log lacks %q:\n%s", want, stdout)
		}
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "good.yml"), "image: x\nsteps:\n  - name: a\n    commands: [true]\n")
	writeFile(t, filepath.Join(dir, "bad.yml"), "image: x\nsteps:\n  - name: a\n    comands: [true]\n")
	stdout, _, code := run(t, dir, "validate", "good.yml")
	if code != 0 || !strings.Contains(stdout, "good.yml: ok (1 steps, 0 services)") {
		t.Errorf("good file: exit %d, stdout %q", code, stdout)
	}
	_, stderr, code := run(t, dir, "validate", "good.yml", "bad.yml")
	if code != 1 {
		t.Errorf("bad file: exit %d, want 1", code)
	}
	if !regexp.MustCompile(`bad\.yml:4:5: .*"comands".*did you mean "commands"`).MatchString(stderr) {
		t.Errorf("bad file: stderr %q lacks a file:line:col error with a suggestion", stderr)
	}
}

func TestHelpListsCommands(t *testing.T) {
	stdout, _, code := run(t, t.TempDir(), "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, c := range commands() {
		if !strings.Contains(stdout, "  "+c.name) {
			t.Errorf("--help lacks %s", c.name)
		}
	}
	if _, _, code := run(t, t.TempDir(), "nope"); code != 1 {
		t.Errorf("unknown command: exit %d, want 1", code)
	}
}
