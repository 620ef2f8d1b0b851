package docker

import (
	"context"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/network"

	"github.com/narwhal-ci/narwhal/internal/executor"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// slotExecutor is a test executor with slot networks; its networks are
// removed at the end of the test, before the leftover check.
func slotExecutor(t testing.TB) (*Executor, string) {
	t.Helper()
	e, img := newTestExecutor(t, Config{Isolation: IsolationSlot})
	if err := e.isolate(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.removeSlots(); err != nil {
			t.Errorf("remove slot networks: %v", err)
		}
	})
	return e, img
}

func TestSlotNetworksAreHeldAloneAndReused(t *testing.T) {
	t.Parallel()
	e, img := slotExecutor(t)
	cli := dockerClient(t)
	ctx := context.Background()
	a, b := newJob(t), newJob(t)
	for _, j := range []*executor.Job{a, b} {
		if err := e.Setup(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	netA, _ := e.slotOf(a.ID)
	netB, _ := e.slotOf(b.ID)
	if netA == "" || netA == netB {
		t.Fatalf("jobs running together got networks %q and %q, want two different ones", netA, netB)
	}
	res, out := run(t, ctx, e, a, &executor.Step{Name: "net", Image: img, Commands: []string{"cat /etc/hosts"}})
	if res.ExitCode != 0 {
		t.Fatalf("step on the slot network: %+v\n%s", res, out)
	}
	teardown(t, e, a)
	c := newJob(t)
	if err := e.Setup(ctx, c); err != nil {
		t.Fatal(err)
	}
	defer teardown(t, e, c)
	defer teardown(t, e, b)
	if netC, _ := e.slotOf(c.ID); netC != netA {
		t.Errorf("the next job got network %q, want %q reused", netC, netA)
	}
	if n := countLabelled(t, cli, LabelRunner+"="+e.cfg.RunnerID); n.networks != 2 {
		t.Errorf("%d networks, want 2 (one per slot in use)", n.networks)
	}
}

func TestStrictIsolationFollowsTheDefaultBridge(t *testing.T) {
	t.Parallel()
	e, _ := newTestExecutor(t, Config{Isolation: IsolationStrict})
	bridge, err := dockerClient(t).NetworkInspect(context.Background(), "bridge", network.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = e.isolate(context.Background())
	if iccOff := bridge.Options[iccOption] == "false"; iccOff != (err == nil) {
		t.Errorf("icc off on the default bridge: %v; strict isolation: %v", iccOff, err)
	}
	if err != nil && !strings.Contains(err.Error(), `"icc": false`) {
		t.Errorf("error %q does not say how to fix it", err)
	}
}

// BenchmarkJobNetwork compares a one-step `true` job on each network path
// with `docker run --rm IMAGE true`: divide the executor figures by docker-run.
func BenchmarkJobNetwork(b *testing.B) {
	b.Run("docker-run", func(b *testing.B) {
		img := testenv.Image(b)
		for b.Loop() {
			if out, err := exec.Command("docker", "run", "--rm", img, "true").CombinedOutput(); err != nil {
				b.Fatalf("docker run: %v\n%s", err, out)
			}
		}
	})
	b.Run("default-bridge", func(b *testing.B) {
		e, img := newTestExecutor(b, Config{})
		benchJobs(b, e, img)
	})
	b.Run("slot-network", func(b *testing.B) {
		e, img := slotExecutor(b)
		benchJobs(b, e, img)
	})
}

// benchJobs runs one-step `true` jobs one after the other, as one slot does.
func benchJobs(b *testing.B, e *Executor, img string) {
	ctx := context.Background()
	step := &executor.Step{Name: "true", Image: img, Commands: []string{"true"}}
	ws := b.TempDir()
	for b.Loop() {
		job := &executor.Job{ID: "bench-" + randomHex(4), Workspace: ws}
		if err := e.Setup(ctx, job); err != nil {
			b.Fatal(err)
		}
		if res, err := e.Run(ctx, job, step, io.Discard); err != nil || res.ExitCode != 0 {
			b.Fatalf("run: %+v, %v", res, err)
		}
		if err := e.Teardown(ctx, job); err != nil {
			b.Fatal(err)
		}
	}
}
