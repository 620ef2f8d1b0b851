package host

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/testenv"

	"github.com/narwhal-ci/narwhal/internal/executor"
)

func TestRunTimeout(t *testing.T) {
	t.Parallel()
	e, job := setup(t)
	pidFile := filepath.Join(job.Workspace, "bg.pid")
	start := time.Now()
	res, _ := run(t, context.Background(), e, job, executor.Step{Timeout: 200 * time.Millisecond},
		"sleep 600 & echo $! > "+pidFile, "sleep 600")
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("Run took %v after a 200ms timeout", elapsed)
	}
	if !res.TimedOut || res.Cancelled || res.ExitCode == 0 {
		t.Errorf("result = %+v, want TimedOut and a non-zero exit code", res)
	}
	waitDead(t, pidFile)
}

func TestRunTimeoutIgnoringSIGTERM(t *testing.T) {
	t.Parallel()
	e, job := setup(t) // grace period 300ms
	start := time.Now()
	res, _ := run(t, context.Background(), e, job, executor.Step{Timeout: 100 * time.Millisecond},
		"trap '' TERM", "while :; do sleep 0.05; done")
	elapsed := time.Since(start)
	if elapsed < 400*time.Millisecond || elapsed > 3*time.Second {
		t.Errorf("Run took %v, want about timeout + grace period", elapsed)
	}
	if !res.TimedOut || res.ExitCode != 128+9 {
		t.Errorf("result = %+v, want TimedOut and SIGKILL's exit code 137", res)
	}
}

func TestRunBackgroundGrandchildKilled(t *testing.T) {
	t.Parallel()
	e, job := setup(t)
	pidFile := filepath.Join(job.Workspace, "bg.pid")
	start := time.Now()
	res, _ := run(t, context.Background(), e, job, executor.Step{}, "sleep 600 & echo $! > "+pidFile)
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("Run took %v: it waited for the background process", elapsed)
	}
	if res.ExitCode != 0 {
		t.Errorf("result = %+v", res)
	}
	waitDead(t, pidFile)
}

// TestRunJobControlEscapeKilled covers a background job that bash's job
// control moved to a process group of its own.
func TestRunJobControlEscapeKilled(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bash"); err != nil {
		testenv.Missing(t, "bash")
	}
	e, job := setup(t)
	pidFile := filepath.Join(job.Workspace, "bg.pid")
	res, _ := run(t, context.Background(), e, job, executor.Step{},
		`bash -c 'set -m; sleep 600 & echo $! > `+pidFile+`'`)
	if res.ExitCode != 0 {
		t.Errorf("result = %+v", res)
	}
	waitDead(t, pidFile)
}

func TestRunCancelled(t *testing.T) {
	t.Parallel()
	e, job := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	res, _ := run(t, ctx, e, job, executor.Step{}, "sleep 600")
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("Run took %v after cancellation", elapsed)
	}
	if !res.Cancelled || res.TimedOut || res.ExitCode != 128+15 {
		t.Errorf("result = %+v, want Cancelled with SIGTERM's exit code 143", res)
	}

	res, out := run(t, ctx, e, job, executor.Step{}, "echo should not run")
	if !res.Cancelled || out != "" {
		t.Errorf("step after cancellation: result %+v, output %q", res, out)
	}
}

func TestTeardownKillsRunningStep(t *testing.T) {
	t.Parallel()
	e, job := setup(t)
	pidFile := filepath.Join(job.Workspace, "bg.pid")
	done := make(chan executor.Result, 1)
	go func() {
		res, _ := run(t, context.Background(), e, job, executor.Step{}, "echo $$ > "+pidFile+".tmp",
			"mv "+pidFile+".tmp "+pidFile, "sleep 600")
		done <- res
	}()
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if fileExists(pidFile) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("step did not start")
		}
	}
	if err := e.Teardown(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-done:
		if res.ExitCode != 128+9 {
			t.Errorf("result = %+v, want SIGKILL's exit code", res)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Run did not return after Teardown")
	}
	waitDead(t, pidFile)
}
