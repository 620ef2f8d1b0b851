package docker

import (
	"context"
	"errors"
	"fmt"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/narwhal-ci/narwhal/internal/executor"
)

// Teardown removes every container (running or not, with its anonymous
// volumes), network and volume labelled with job and this runner, in that
// order, then gives the job's slot network (if any) back for the next job. It
// is idempotent and best-effort: it removes what it can and returns the
// errors joined. It works after a failed or missing Setup.
func (e *Executor) Teardown(ctx context.Context, job *executor.Job) error {
	e.mu.Lock()
	own, hasOwn := e.networks[job.ID]
	delete(e.networks, job.ID)
	e.mu.Unlock()
	_, err := e.removeLabelled(ctx, e.filter(job.ID))
	e.releaseSlot(job.ID, err == nil) // a container left may still be on it
	if hasOwn && err == nil {
		err = e.networkGone(own)
	}
	if err != nil {
		return fmt.Errorf("teardown job %s: %w", job.ID, err)
	}
	return nil
}

// Sweep removes everything labelled with this runner's RunnerID: what a crash
// left behind. Call it at start, before any job runs; it returns how many
// objects it removed.
func (e *Executor) Sweep(ctx context.Context) (removed int, err error) {
	n, err := e.removeLabelled(ctx, e.filter(""))
	if n > 0 {
		e.log.InfoContext(ctx, "swept leftovers", "runner", e.cfg.RunnerID, "removed", n)
	}
	if err != nil {
		return n, fmt.Errorf("sweep runner %s: %w", e.cfg.RunnerID, err)
	}
	return n, nil
}

// filter selects the objects of this runner, and of one job if jobID is set.
func (e *Executor) filter(jobID string) filters.Args {
	f := filters.NewArgs(
		filters.Arg("label", LabelManaged+"=true"),
		filters.Arg("label", LabelRunner+"="+e.cfg.RunnerID),
	)
	if jobID != "" {
		f.Add("label", LabelJob+"="+jobID)
	}
	return f
}

// removeLabelled removes the containers, then the networks, then the volumes
// that f selects.
func (e *Executor) removeLabelled(ctx context.Context, f filters.Args) (int, error) {
	nc, errC := e.removeContainers(ctx, f)
	nn, errN := e.removeNetworks(ctx, f)
	nv, errV := e.removeVolumes(ctx, f)
	return nc + nn + nv, errors.Join(errC, errN, errV)
}

func (e *Executor) removeContainers(ctx context.Context, f filters.Args) (int, error) {
	list, err := e.api.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return 0, fmt.Errorf("list containers: %w", err)
	}
	ids := make([]string, len(list))
	for i, c := range list {
		ids[i] = c.ID
	}
	return removeEach("container", ids, func(id string) error {
		return e.api.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	})
}

func (e *Executor) removeNetworks(ctx context.Context, f filters.Args) (int, error) {
	list, err := e.api.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		return 0, fmt.Errorf("list networks: %w", err)
	}
	ids := make([]string, len(list))
	for i, n := range list {
		ids[i] = n.ID
	}
	return removeEach("network", ids, func(id string) error { return e.api.NetworkRemove(ctx, id) })
}

func (e *Executor) removeVolumes(ctx context.Context, f filters.Args) (int, error) {
	resp, err := e.api.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		return 0, fmt.Errorf("list volumes: %w", err)
	}
	names := make([]string, 0, len(resp.Volumes))
	for _, v := range resp.Volumes {
		names = append(names, v.Name)
	}
	return removeEach("volume", names, func(name string) error { return e.api.VolumeRemove(ctx, name, true) })
}

// removeEach calls remove for every id concurrently and counts the successes;
// an object already gone counts as removed.
func removeEach(kind string, ids []string, remove func(id string) error) (int, error) {
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			if err := remove(id); err != nil && !cerrdefs.IsNotFound(err) {
				errs[i] = fmt.Errorf("remove %s %s: %w", kind, id, err)
			}
		})
	}
	wg.Wait()
	n := 0
	for _, err := range errs {
		if err == nil {
			n++
		}
	}
	return n, errors.Join(errs...)
}
