package devstack

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// TestTwoStacksOnOneEngine: two `narwhal dev` stacks (default runner names,
// their own state directories) on one Docker engine. The second's start, with
// its sweep of leftovers, does not remove the first's running container: the
// first's job still succeeds, and so does a second process on the first's
// state directory, which refuses to start. Their runner IDs differ; the state
// directory keeps its own.
func TestTwoStacksOnOneEngine(t *testing.T) {
	t.Parallel()
	image := testenv.Image(t)
	first := testConfig(t)
	first.Executor, first.Runners = ExecDocker, 1
	ctx, cancel := context.WithCancel(context.Background())
	a, err := Start(ctx, first)
	if err != nil {
		cancel()
		testenv.Missing(t, "Docker ("+err.Error()+")")
	}
	t.Cleanup(func() {
		cancel()
		if err := a.Wait(); err != nil {
			t.Errorf("first stack: %v", err)
		}
	})
	slow := newRepo(t, map[string]string{"narwhal.yml": fmt.Sprintf(
		"name: slow\nimage: %s\nsteps:\n  - name: wait\n    commands: [echo started, sleep 4, echo finished]\n", image)})
	id, err := a.Trigger(ctx, slow)
	if err != nil {
		t.Fatal(err)
	}
	waitLogLine(t, a, id, "wait | started", 30*time.Second)

	// A second process on the same state directory does not start, and
	// touches nothing on its way out.
	same := first
	same.Addr = "127.0.0.1:0"
	if s, err := Start(ctx, same); err == nil {
		t.Fatalf("a second stack on %s started (runners %v)", first.Dir, s.Info().Runners)
	}

	second := testConfig(t)
	second.Executor, second.Runners = ExecDocker, 1
	b, _ := startStack(t, second)
	if j := waitJob(t, a, id, 60*time.Second); j.Status != ci.StatusSuccess {
		t.Fatalf("the first stack's job after the second started: %s\n%s", jsonString(j), jobLog(t, a, id))
	}
	if a.runners[0].id == b.runners[0].id || !strings.HasPrefix(a.runners[0].id, "dev-") {
		t.Errorf("runner IDs %s and %s: want two distinct dev-<tag>-1", a.runners[0].id, b.runners[0].id)
	}
	if tag, err := runnerName(first.Dir); err != nil || tag+"-1" != a.runners[0].id {
		t.Errorf("the first stack's dir names its runners %s-1 (%v), it ran %s", tag, err, a.runners[0].id)
	}
}
