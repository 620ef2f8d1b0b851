package docker

import (
	"context"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"github.com/narwhal-ci/narwhal/internal/executor"
)

// TestSweepRemovesCrashLeftovers simulates what a killed runner leaves: a
// running container, a network and a volume with its labels. Another runner's
// container must survive the sweep.
func TestSweepRemovesCrashLeftovers(t *testing.T) {
	t.Parallel()
	e, img := newTestExecutor(t, Config{})
	other, _ := newTestExecutor(t, Config{})
	cli := dockerClient(t)
	ctx := context.Background()
	job := &executor.Job{ID: "crashed"}

	mine := labels(e.cfg, job, LabelStep, "build")
	startLabelled(t, cli, img, mine)
	if _, err := cli.NetworkCreate(ctx, "narwhal-"+randomHex(6), network.CreateOptions{Labels: labels(e.cfg, job, "", "")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.VolumeCreate(ctx, volume.CreateOptions{Labels: labels(e.cfg, job, "", "")}); err != nil {
		t.Fatal(err)
	}
	theirs := startLabelled(t, cli, img, labels(other.cfg, job, LabelStep, "build"))

	removed, err := e.Sweep(ctx)
	if err != nil || removed != 3 {
		t.Errorf("sweep removed %d, %v; want 3", removed, err)
	}
	if _, err := cli.ContainerInspect(ctx, theirs); err != nil {
		t.Errorf("another runner's container was swept: %v", err)
	}
	if removed, err := e.Sweep(ctx); err != nil || removed != 0 {
		t.Errorf("second sweep removed %d, %v; want 0", removed, err)
	}
	if removed, err := other.Sweep(ctx); err != nil || removed != 1 {
		t.Errorf("other runner's sweep removed %d, %v; want 1", removed, err)
	}
}

// startLabelled starts a long-running container with labels, as a runner does.
func startLabelled(t *testing.T, cli *client.Client, img string, l map[string]string) string {
	t.Helper()
	ctx := context.Background()
	resp, err := cli.ContainerCreate(ctx, &container.Config{Image: img, Cmd: []string{"sleep", "600"}, Labels: l}, nil, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.ContainerStart(ctx, resp.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	return resp.ID
}
