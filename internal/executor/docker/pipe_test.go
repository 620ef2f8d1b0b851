package docker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/executor"
)

// TestOutputKeepsTheOrderItWasWrittenIn: a step's stdout and stderr share
// one pipe to narwhal, so lines written alternately to each come out in the
// order written. Through the engine's two pipes, lines of different streams
// could swap.
func TestOutputKeepsTheOrderItWasWrittenIn(t *testing.T) {
	t.Parallel()
	e, img := newTestExecutor(t, Config{})
	job := newJob(t)
	defer teardown(t, e, job)
	const n = 2000
	step := &executor.Step{Name: "alternate", Image: img, Commands: []string{
		fmt.Sprintf(`i=0; while [ $i -lt %d ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done`, n),
	}}
	res, out := run(t, context.Background(), e, job, step)
	if res.ExitCode != 0 {
		t.Fatalf("result %+v\n%s", res, out)
	}
	var want strings.Builder
	want.WriteString("+ " + step.Commands[0] + "\n")
	for i := range n {
		fmt.Fprintf(&want, "out %d\nerr %d\n", i, i)
	}
	if out != want.String() {
		t.Errorf("output is not the lines in the order written (%d bytes, want %d); first lines:\n%.300s", len(out), want.Len(), out)
	}
}

// TestOutputPipesAreRemoved: the pipe of a step is gone when Run returns,
// whether the step ran, was cancelled, or its container was never created.
func TestOutputPipesAreRemoved(t *testing.T) {
	t.Parallel()
	e, img := newTestExecutor(t, Config{})
	job := newJob(t)
	defer teardown(t, e, job)
	ctx := context.Background()
	run(t, ctx, e, job, &executor.Step{Name: "ok", Image: img, Commands: []string{"echo hi"}})
	cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if res, _ := run(t, cctx, e, job, &executor.Step{Name: "cancelled", Image: img, Commands: []string{"sleep 30"}}); !res.Cancelled {
		t.Errorf("sleep 30 under a 500 ms context: %+v, want cancelled", res)
	}
	if _, err := e.Run(ctx, job, &executor.Step{Name: "no-image", Image: "narwhal-test/absent:none", Commands: []string{"true"}}, &strings.Builder{}); err == nil {
		t.Error("a step of an absent image ran")
	}
	entries, err := os.ReadDir(filepath.Dir(job.Workspace))
	if err != nil {
		t.Fatal(err)
	}
	for _, entry := range entries {
		if strings.HasPrefix(entry.Name(), pipeDirPrefix) {
			t.Errorf("output pipe left behind: %s", entry.Name())
		}
	}
}

// TestOutputWithoutAPipe: where no pipe can be made, a step's output goes
// through the engine, all of it.
func TestOutputWithoutAPipe(t *testing.T) {
	t.Parallel()
	e, img := newTestExecutor(t, Config{})
	e.pipeDir = func(string) string { return "/dev/null/no-such-dir" } // MkdirTemp fails, even for root
	job := newJob(t)
	defer teardown(t, e, job)
	res, out := run(t, context.Background(), e, job, &executor.Step{Name: "engine", Image: img, Commands: []string{"echo to-stdout", "echo to-stderr >&2"}})
	if res.ExitCode != 0 {
		t.Fatalf("result %+v\n%s", res, out)
	}
	for _, want := range []string{"+ echo to-stdout\n", "to-stdout\n", "to-stderr\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !e.noPipe.Load() {
		t.Error("the executor did not note that it had no pipe")
	}
}
