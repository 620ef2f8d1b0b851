package docker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/executor"
)

func TestStepsShareWorkspace(t *testing.T) {
	t.Parallel()
	e, img := newTestExecutor(t, Config{})
	cli := dockerClient(t)
	job := newJob(t)
	ctx := context.Background()
	if err := e.Setup(ctx, job); err != nil {
		t.Fatal(err)
	}
	defer teardown(t, e, job)

	write := &executor.Step{Name: "write", Image: img, Commands: []string{"echo from-step-1 > shared.txt"}}
	if res, out := run(t, ctx, e, job, write); res.ExitCode != 0 {
		t.Fatalf("write: %+v\n%s", res, out)
	}
	read := &executor.Step{Name: "read", Image: img, Commands: []string{"cat shared.txt"}}
	res, out := run(t, ctx, e, job, read)
	if res.ExitCode != 0 || !strings.Contains(out, "from-step-1") {
		t.Errorf("read: %+v, output %q", res, out)
	}
	host, err := os.ReadFile(filepath.Join(job.Workspace, "shared.txt"))
	if err != nil || string(host) != "from-step-1\n" {
		t.Errorf("host sees %q, %v", host, err)
	}
	// A job without services pays for no network.
	if n := countLabelled(t, cli, LabelJob+"="+job.ID); n.networks != 0 || n.containers != 2 {
		t.Errorf("job objects before teardown: %+v, want 2 containers and no network", n)
	}
}

func TestEnvWorkingDirAndOutput(t *testing.T) {
	t.Parallel()
	e, img := newTestExecutor(t, Config{})
	job := newJob(t)
	defer teardown(t, e, job)
	step := &executor.Step{
		Name:       "env",
		Image:      img,
		Env:        map[string]string{"GREETING": "hello world", "QUOTE": `it's "quoted"`},
		WorkingDir: "sub/dir",
		Commands:   []string{"pwd", `echo "$GREETING / $QUOTE"`, "echo to-stderr >&2", "echo to-stdout"},
	}
	res, out := run(t, context.Background(), e, job, step)
	if res.ExitCode != 0 || res.Cancelled || res.TimedOut || res.OOMKilled || res.Duration <= 0 {
		t.Errorf("result %+v", res)
	}
	// stdout and stderr (where the shell traces commands) share one pipe;
	// TestOutputKeepsTheOrderItWasWrittenIn holds their order.
	for _, want := range []string{
		"+ pwd\n", "/workspace/sub/dir\n",
		`hello world / it's "quoted"`,
		"to-stderr\n", "to-stdout\n",
		"+ echo to-stdout\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(job.Workspace, "sub", "dir")); err != nil {
		t.Errorf("working dir not created in the workspace: %v", err)
	}
}

func TestFailingStepIsAResult(t *testing.T) {
	t.Parallel()
	e, img := newTestExecutor(t, Config{})
	job := newJob(t)
	defer teardown(t, e, job)
	step := &executor.Step{Name: "fail", Image: img, Commands: []string{"echo before", "sh -c 'exit 3'", "echo not-reached"}}
	res, out := run(t, context.Background(), e, job, step)
	if res.ExitCode != 3 || res.OOMKilled || res.TimedOut || res.Cancelled {
		t.Errorf("result %+v, want exit code 3 only", res)
	}
	if !strings.Contains(out, "before") || strings.Contains(out, "not-reached\n") {
		t.Errorf("sh -e did not stop at the failure:\n%s", out)
	}
}

func TestTimeoutStopsStep(t *testing.T) {
	t.Parallel()
	e, img := newTestExecutor(t, Config{StopGrace: time.Second})
	job := newJob(t)
	defer teardown(t, e, job)
	step := &executor.Step{Name: "slow", Image: img, Commands: []string{"sleep 600"}, Timeout: time.Second}
	start := time.Now()
	res, _ := run(t, context.Background(), e, job, step)
	if !res.TimedOut || res.Cancelled || res.ExitCode == 0 {
		t.Errorf("result %+v, want timed out with a non-zero exit code", res)
	}
	// Timeout + grace + the cost of a container, with room for a busy machine.
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("took %v to stop", took)
	}
}

func TestCancelStopsStep(t *testing.T) {
	t.Parallel()
	e, img := newTestExecutor(t, Config{StopGrace: time.Second})
	job := newJob(t)
	defer teardown(t, e, job)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := newWatcher("ready\n")
	go func() {
		select {
		case <-out.seen:
			cancel()
		case <-time.After(30 * time.Second):
		}
	}()
	step := &executor.Step{Name: "cancel", Image: img, Commands: []string{"echo ready", "sleep 600"}}
	start := time.Now()
	res, err := e.Run(ctx, job, step, out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	if !res.Cancelled || res.TimedOut || res.ExitCode == 0 {
		t.Errorf("result %+v, want cancelled with a non-zero exit code", res)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("took %v to stop", took)
	}
}

func TestCancelledBeforeStart(t *testing.T) {
	t.Parallel()
	e, img := newTestExecutor(t, Config{})
	job := newJob(t)
	defer teardown(t, e, job)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := e.Run(ctx, job, &executor.Step{Name: "never", Image: img, Commands: []string{"true"}}, io.Discard)
	if err != nil || !res.Cancelled || res.ExitCode != -1 {
		t.Errorf("got %+v, %v; want cancelled, exit code -1, no error", res, err)
	}
}

func TestOOMKilled(t *testing.T) {
	t.Parallel()
	e, img := newTestExecutor(t, Config{Memory: 32 << 20})
	job := newJob(t)
	defer teardown(t, e, job)
	// busybox tail keeps its whole input in memory.
	step := &executor.Step{Name: "hog", Image: img, Commands: []string{"head -c 200m /dev/zero | tail"}, Timeout: time.Minute}
	res, out := run(t, context.Background(), e, job, step)
	if !res.OOMKilled || res.ExitCode != 137 || res.TimedOut {
		t.Errorf("result %+v, want OOM killed with exit code 137\n%s", res, out)
	}
}

// tail keeps the last 4 KiB written to it.
type tail struct{ buf []byte }

func (w *tail) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	if len(w.buf) > 4096 {
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-4096:]...)
	}
	return len(p), nil
}

func (w *tail) String() string { return string(w.buf) }

func TestLargeOutputStreamed(t *testing.T) {
	t.Parallel()
	e, img := newTestExecutor(t, Config{})
	job := newJob(t)
	defer teardown(t, e, job)
	const size = 16 << 20
	step := &executor.Step{Name: "big", Image: img, Commands: []string{"head -c 16777216 /dev/zero", "head -c 1000 /dev/zero >&2"}}
	var out counter
	res, err := e.Run(context.Background(), job, step, &out)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("run: %+v, %v", res, err)
	}
	// The output is the data plus the echoed commands.
	echo := len(executor.Script(step.Commands)) // an upper bound on the echo lines
	if out.n < size+1000 || out.n > size+1000+int64(echo) {
		t.Errorf("got %d bytes, want %d plus the echoed commands", out.n, size+1000)
	}
}

// counter counts the bytes written to it.
type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func TestOutputWriteFailure(t *testing.T) {
	t.Parallel()
	e, img := newTestExecutor(t, Config{})
	job := newJob(t)
	defer teardown(t, e, job)
	broken := errors.New("disk full")
	step := &executor.Step{Name: "out", Image: img, Commands: []string{"head -c 1000000 /dev/zero", "echo done > done.txt"}, Timeout: time.Minute}
	res, err := e.Run(context.Background(), job, step, failingWriter{broken})
	if !errors.Is(err, broken) {
		t.Errorf("error %v, want it to wrap %v", err, broken)
	}
	if res.ExitCode != 0 || res.TimedOut {
		t.Errorf("result %+v: the step should run to its end", res)
	}
	if _, err := os.Stat(filepath.Join(job.Workspace, "done.txt")); err != nil {
		t.Errorf("the step did not finish: %v", err)
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write(p []byte) (int, error) { return 0, w.err }

func TestConcurrentStepsOfOneJob(t *testing.T) {
	t.Parallel()
	e, img := newTestExecutor(t, Config{})
	job := newJob(t)
	defer teardown(t, e, job)
	outs := make([]bytes.Buffer, 2)
	errs := make(chan error, 2)
	for i, name := range []string{"left", "right"} {
		go func() {
			step := &executor.Step{Name: name, Image: img, Commands: []string{"echo " + name + " > " + name + ".txt", "cat " + name + ".txt"}}
			res, err := e.Run(context.Background(), job, step, &outs[i])
			if err == nil && res.ExitCode != 0 {
				err = errors.New(name + " failed")
			}
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if !strings.Contains(outs[0].String(), "left\n") || !strings.Contains(outs[1].String(), "right\n") {
		t.Errorf("outputs %q and %q", outs[0].String(), outs[1].String())
	}
}
