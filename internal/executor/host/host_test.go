package host

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/executor"
)

// lockedBuffer collects a step's output; it also fails the test if Run
// writes to it from two goroutines at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	t   *testing.T
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	if !b.mu.TryLock() {
		b.t.Error("concurrent writes to the output")
		b.mu.Lock()
	}
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// quiet returns a logger that discards everything.
func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestNewWarns(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	New(slog.New(slog.NewTextHandler(&buf, nil)))
	want := "level=WARN msg=\"host executor: steps run directly on this machine with no isolation\""
	if got := buf.String(); strings.Count(got, "level=WARN") != 1 || !strings.Contains(got, want) {
		t.Errorf("New logged %q, want one %s", got, want)
	}
}

// setup returns an executor with a short grace period and a job set up in a
// fresh workspace; Teardown runs at cleanup.
func setup(t *testing.T) (*Executor, *executor.Job) {
	t.Helper()
	e := New(quiet(), WithGracePeriod(300*time.Millisecond),
		WithHomeDir(t.TempDir()))
	job := &executor.Job{ID: "job-" + strings.ReplaceAll(t.Name(), "/", "_"), Workspace: t.TempDir()}
	if err := e.Setup(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Teardown(context.Background(), job); err != nil {
			t.Error(err)
		}
	})
	return e, job
}

// run runs commands as a step and returns its result and output.
func run(t *testing.T, ctx context.Context, e *Executor, job *executor.Job, step executor.Step, commands ...string) (executor.Result, string) {
	t.Helper()
	step.Name, step.Commands = "test", commands
	out := &lockedBuffer{t: t}
	res, err := e.Run(ctx, job, &step, out)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res, out.String()
}

func TestRunSuccess(t *testing.T) {
	t.Parallel()
	e, job := setup(t)
	res, out := run(t, context.Background(), e, job, executor.Step{}, "echo hello", "echo world")
	if res.ExitCode != 0 || res.TimedOut || res.Cancelled || res.Duration <= 0 {
		t.Errorf("result = %+v", res)
	}
	if want := "+ echo hello\nhello\n+ echo world\nworld\n"; out != want {
		t.Errorf("output = %q, want %q", out, want)
	}
}

func TestRunFailingExitCode(t *testing.T) {
	t.Parallel()
	e, job := setup(t)
	res, out := run(t, context.Background(), e, job, executor.Step{}, "echo before", "exit 3", "echo after")
	if res.ExitCode != 3 || res.TimedOut || res.Cancelled {
		t.Errorf("result = %+v, want exit code 3", res)
	}
	if strings.Contains(out, "\nafter") {
		t.Errorf("commands ran after the failure: %q", out)
	}
}

func TestRunStderrCaptured(t *testing.T) {
	t.Parallel()
	e, job := setup(t)
	script := "i=0; while [ $i -lt 200 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done"
	_, out := run(t, context.Background(), e, job, executor.Step{}, script)
	for _, want := range []string{"\nerr0\n", "\nerr199\n", "\nout199\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestRunEnvAndWorkingDir(t *testing.T) {
	t.Setenv("NARWHAL_RUNNER_SECRET", "hunter2")
	e, job := setup(t)
	step := executor.Step{WorkingDir: "sub/dir", Env: map[string]string{"GREETING": "hi there", "LANG": "C"}}
	res, out := run(t, context.Background(), e, job, step,
		`echo "pwd=$(pwd)"`, `echo "greeting=$GREETING lang=$LANG"`, `echo "home=$HOME"`,
		`echo "secret=${NARWHAL_RUNNER_SECRET:-unset}"`, `touch "$HOME/x" "$TMPDIR/y"`, "env")
	if res.ExitCode != 0 {
		t.Fatalf("result = %+v, output:\n%s", res, out)
	}
	wants := []string{"pwd=" + filepath.Join(job.Workspace, "sub", "dir") + "\n",
		"greeting=hi there lang=C\n", "secret=unset\n", "home=" + e.jobs[job.ID].home + "\n"}
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") {
		t.Errorf("the runner's environment leaked into the step:\n%s", out)
	}
}

func TestRunWorkingDirOutsideWorkspace(t *testing.T) {
	t.Parallel()
	e, job := setup(t)
	step := &executor.Step{Name: "escape", WorkingDir: "../..", Commands: []string{"true"}}
	if _, err := e.Run(context.Background(), job, step, io.Discard); err == nil {
		t.Error("Run with working directory ../.. succeeded")
	}
}

func TestSetupRejectsServices(t *testing.T) {
	t.Parallel()
	e := New(quiet(), WithHomeDir(t.TempDir()))
	job := &executor.Job{ID: "svc", Workspace: t.TempDir(), Services: []executor.Service{{Name: "db", Image: "postgres"}}}
	err := e.Setup(context.Background(), job)
	want := `host executor cannot run services (service "db"); use the docker executor`
	if err == nil || err.Error() != want {
		t.Errorf("Setup err = %v, want %q", err, want)
	}
	if err := e.Teardown(context.Background(), job); err != nil {
		t.Errorf("Teardown after failed Setup: %v", err)
	}
}

func TestTeardownIdempotentAndRunAfterIt(t *testing.T) {
	t.Parallel()
	e := New(quiet(), WithHomeDir(t.TempDir()))
	job := &executor.Job{ID: "td", Workspace: t.TempDir()}
	if err := e.Setup(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	home := e.jobs[job.ID].home
	for i := 0; i < 2; i++ {
		if err := e.Teardown(context.Background(), job); err != nil {
			t.Fatalf("Teardown %d: %v", i, err)
		}
	}
	if _, err := os.Stat(home); !os.IsNotExist(err) {
		t.Errorf("job home survived Teardown: %v", err)
	}
	if _, err := e.Run(context.Background(), job, &executor.Step{Commands: []string{"true"}}, io.Discard); err == nil {
		t.Error("Run after Teardown succeeded")
	}
}

// alive reports whether pid is a running process (zombies count as dead).
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && !bytes.HasPrefix(bytes.TrimSpace(stat[i+1:]), []byte("Z"))
}

// waitDead fails the test unless the process whose PID is in file dies soon.
func waitDead(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("process %d survived its step", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fileExists reports whether path exists.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
