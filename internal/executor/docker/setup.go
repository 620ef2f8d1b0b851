package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/docker/docker/api/types/container"

	"github.com/narwhal-ci/narwhal/internal/executor"
)

// Setup prepares job: for a job with services, it creates the job's network
// and starts the services on it, reachable from the steps by their names. A
// job without services costs nothing here: its steps use the default network,
// or a slot network the job holds until Teardown (see Config.Isolation).
// Setup does not wait for services to be ready; steps retry. After a failed
// Setup, Teardown still removes what was created.
func (e *Executor) Setup(ctx context.Context, job *executor.Job) error {
	if !filepath.IsAbs(job.Workspace) {
		return fmt.Errorf("setup job %s: workspace %q is not an absolute path", job.ID, job.Workspace)
	}
	if len(job.Services) == 0 {
		if e.slots == nil {
			return nil
		}
		if _, err := e.takeSlot(ctx, job.ID); err != nil {
			return fmt.Errorf("setup job %s: %w", job.ID, err)
		}
		return nil
	}
	net, err := e.createNetwork(ctx, job)
	if err != nil {
		return fmt.Errorf("setup job %s: %w", job.ID, err)
	}
	if err := e.startServices(ctx, job, net); err != nil {
		return fmt.Errorf("setup job %s: %w", job.ID, err)
	}
	return nil
}

// createNetwork creates the job's bridge network and remembers it for Run.
func (e *Executor) createNetwork(ctx context.Context, job *executor.Job) (string, error) {
	name := "narwhal-" + randomHex(6)
	if err := e.newNetwork(ctx, name, labels(e.cfg, job, "", "")); err != nil {
		return "", fmt.Errorf("create network: %w", err)
	}
	e.mu.Lock()
	e.networks[job.ID] = name
	e.mu.Unlock()
	return name, nil
}

// jobNetwork returns the network of job: its own for a job with services,
// else its slot network, or "" for Config.Network.
func (e *Executor) jobNetwork(job *executor.Job) (string, error) {
	if len(job.Services) == 0 {
		if e.slots == nil {
			return "", nil
		}
		if name, ok := e.slotOf(job.ID); ok {
			return name, nil
		}
		return "", fmt.Errorf("job %s has no slot network: Setup has not succeeded", job.ID)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	name, ok := e.networks[job.ID]
	if !ok {
		return "", fmt.Errorf("job %s has services but no network: Setup has not succeeded", job.ID)
	}
	return name, nil
}

// startServices starts the job's services concurrently.
func (e *Executor) startServices(ctx context.Context, job *executor.Job, net string) error {
	errs := make([]error, len(job.Services))
	var wg sync.WaitGroup
	for i := range job.Services {
		wg.Go(func() { errs[i] = e.startService(ctx, job, &job.Services[i], net) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (e *Executor) startService(ctx context.Context, job *executor.Job, svc *executor.Service, net string) error {
	cc, hc, nc := serviceSpec(e.cfg, job, svc, net)
	id, err := e.create(ctx, jobCreds(job), cc, hc, nc)
	if err != nil {
		return fmt.Errorf("service %q: %w", svc.Name, err)
	}
	if err := e.api.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return fmt.Errorf("service %q: start container: %w", svc.Name, err)
	}
	return nil
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
