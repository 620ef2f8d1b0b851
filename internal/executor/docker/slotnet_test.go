package docker

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/network"

	"github.com/narwhal-ci/narwhal/internal/executor"
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

// BenchmarkJobNetwork times a one-step `true` job on each network path,
// interleaved with `docker run --rm IMAGE true` so that a shared machine's
// load falls on all alike, and reports the medians and their ratios to
// docker run: default-bridge/run and slot/run.
func BenchmarkJobNetwork(b *testing.B) {
	bridge, img := newTestExecutor(b, Config{})
	slot, _ := slotExecutor(b)
	ws := b.TempDir()
	var run, onBridge, onSlot []time.Duration
	for b.Loop() {
		run = append(run, timed(b, func() error { return dockerRun(img) }))
		onBridge = append(onBridge, timed(b, func() error { return oneJob(bridge, img, ws) }))
		onSlot = append(onSlot, timed(b, func() error { return oneJob(slot, img, ws) }))
	}
	r, d, s := median(run), median(onBridge), median(onSlot)
	b.ReportMetric(float64(r.Milliseconds()), "run-ms")
	b.ReportMetric(float64(d.Milliseconds()), "bridge-ms")
	b.ReportMetric(float64(s.Milliseconds()), "slot-ms")
	b.ReportMetric(float64(d)/float64(r), "bridge/run")
	b.ReportMetric(float64(s)/float64(r), "slot/run")
}

// timed runs f and returns how long it took, failing the benchmark on error.
func timed(b *testing.B, f func() error) time.Duration {
	start := time.Now()
	if err := f(); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

func dockerRun(img string) error {
	if out, err := exec.Command("docker", "run", "--rm", img, "true").CombinedOutput(); err != nil {
		return fmt.Errorf("docker run: %v: %s", err, out)
	}
	return nil
}

// oneJob runs a one-step `true` job: Setup, Run, Teardown, as a slot does.
func oneJob(e *Executor, img, ws string) error {
	ctx := context.Background()
	job := &executor.Job{ID: "bench-" + randomHex(4), Workspace: ws}
	if err := e.Setup(ctx, job); err != nil {
		return err
	}
	step := &executor.Step{Name: "true", Image: img, Commands: []string{"true"}}
	if res, err := e.Run(ctx, job, step, io.Discard); err != nil || res.ExitCode != 0 {
		return fmt.Errorf("run: %+v, %v", res, err)
	}
	return e.Teardown(ctx, job)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
