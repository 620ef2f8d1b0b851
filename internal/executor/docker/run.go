package docker

import (
	"context"
	"fmt"
	"io"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"

	"github.com/narwhal-ci/narwhal/internal/executor"
)

// Run runs step in a new container and streams its stdout and stderr to out
// as they arrive, writing from one goroutine at a time; all writes are done
// when Run returns. The container is left for Teardown to remove, so that Run
// returns as soon as the step has ended.
//
// A step that could not start because ctx ended reports Cancelled with
// ExitCode -1 and no error. When writing to out fails, the step still runs to
// its end (its output is discarded) and Run returns its Result with the error.
func (e *Executor) Run(ctx context.Context, job *executor.Job, step *executor.Step, out io.Writer) (executor.Result, error) {
	start := time.Now()
	res, err := e.run(ctx, job, step, out)
	res.Duration = time.Since(start)
	if err != nil {
		err = fmt.Errorf("step %q: %w", step.Name, err)
	}
	return res, err
}

func (e *Executor) run(ctx context.Context, job *executor.Job, step *executor.Step, out io.Writer) (executor.Result, error) {
	net, err := e.jobNetwork(job)
	if err != nil {
		return executor.Result{ExitCode: -1}, err
	}
	cc, hc, nc := containerSpec(e.cfg, job, step, net)
	p := e.outputPipe(job)
	if p != nil {
		defer p.close()
		withPipe(cc, hc, p.fifo)
	}
	id, err := e.create(ctx, jobCreds(job), cc, hc, nc)
	if err != nil {
		return notStarted(ctx, err)
	}
	e.lastImage.Store(step.Image)
	o := &sink{w: out}
	s, err := attach(ctx, e.api, id, o)
	if err != nil {
		return notStarted(ctx, err)
	}
	if p != nil {
		p.start(o)
	}
	if err := e.api.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		s.close()
		return notStarted(ctx, fmt.Errorf("start container: %w", err))
	}
	res, err := e.wait(ctx, id, step.Timeout)
	if p != nil {
		p.finish(e.log)
	}
	outErr := s.finish(e.log)
	if err != nil {
		return res, err
	}
	if res.ExitCode != 0 && !res.TimedOut && !res.Cancelled { // narwhal's own kill is no OOM
		if res.OOMKilled, err = e.oomKilled(ctx, id, res.ExitCode); err != nil {
			return res, err
		}
	}
	return res, outErr
}

// outputPipe makes the pipe a step of job writes its output to (pipe.go),
// or returns nil when none can be made: the output then goes through the
// engine, and the first time this happens it is logged.
func (e *Executor) outputPipe(job *executor.Job) *pipe {
	p, err := openPipe(e.pipeDir(job.Workspace))
	if err != nil {
		if !e.noPipe.Swap(true) {
			e.log.Warn("step output goes through the engine, which is slower", "err", err)
		}
		return nil
	}
	return p
}

// notStarted is the outcome of a step whose container did not start: an error,
// unless ctx ended, which is a cancellation.
func notStarted(ctx context.Context, err error) (executor.Result, error) {
	if ctx.Err() != nil {
		return executor.Result{ExitCode: -1, Cancelled: true}, nil
	}
	return executor.Result{ExitCode: -1}, err
}

// jobCreds is the registry credentials of job for ensureImage: never nil
// for a job, so that a job without any is told apart from the executor's own
// containers.
func jobCreds(job *executor.Job) []executor.RegistryAuth {
	if job.Registries == nil {
		return []executor.RegistryAuth{}
	}
	return job.Registries
}

// create creates a container, pulling its image first if the engine lacks it
// (see ensureImage for creds).
func (e *Executor) create(ctx context.Context, creds []executor.RegistryAuth, cc *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig) (string, error) {
	_, cached := e.images.Load(cc.Image)
	if err := e.ensureImage(ctx, cc.Image, creds); err != nil {
		return "", err
	}
	resp, err := e.api.ContainerCreate(ctx, cc, hc, nc, nil, "")
	if err != nil && cached && cerrdefs.IsNotFound(err) {
		// The image was removed since it was seen: look again.
		e.images.Delete(cc.Image)
		if err := e.ensureImage(ctx, cc.Image, creds); err != nil {
			return "", err
		}
		resp, err = e.api.ContainerCreate(ctx, cc, hc, nc, nil, "")
	}
	if err != nil {
		return "", fmt.Errorf("create container: %w", err)
	}
	for _, w := range resp.Warnings {
		e.log.DebugContext(ctx, "container create warning", "container", resp.ID, "warning", w)
	}
	return resp.ID, nil
}

// wait waits for the container to end. When timeout (if > 0) passes or ctx
// ends first, it stops the container (SIGTERM, then SIGKILL after the grace
// period) and keeps waiting; the Result says which happened.
func (e *Executor) wait(ctx context.Context, id string, timeout time.Duration) (executor.Result, error) {
	bg := context.WithoutCancel(ctx)
	waitC, errC := e.api.ContainerWait(bg, id, container.WaitConditionNotRunning)
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	var res executor.Result
	done := ctx.Done()
	for {
		select {
		case w := <-waitC:
			res.ExitCode = int(w.StatusCode)
			if w.Error != nil && w.Error.Message != "" {
				return res, fmt.Errorf("wait for container: %s", w.Error.Message)
			}
			return res, nil
		case err := <-errC:
			return res, fmt.Errorf("wait for container: %w", err)
		case <-deadline:
			res.TimedOut = true
			deadline, done = nil, nil
			e.stop(bg, id)
		case <-done:
			res.Cancelled = true
			deadline, done = nil, nil
			e.stop(bg, id)
		}
	}
}

// stop sends SIGTERM to the container and SIGKILL after the grace period. A
// failure is only logged: the wait that follows reports a container that did
// not end.
func (e *Executor) stop(ctx context.Context, id string) {
	err := e.api.ContainerStop(ctx, id, container.StopOptions{Timeout: stopSeconds(e.cfg)})
	if err != nil && !cerrdefs.IsNotFound(err) {
		e.log.WarnContext(ctx, "stop container", "container", id, "err", err)
	}
}

// oomSettle bounds how long a SIGKILL exit that narwhal did not cause (no
// timeout, no cancel) waits for the daemon to record an OOM kill: 750 ms
// was once too short on a loaded machine (1 TestOOMKilled in ~70).
const oomSettle = 3 * time.Second

// oomKilled reports whether the kernel killed a process of the container for
// exceeding its memory limit. The daemon learns of an OOM kill from an event
// of its own, which on a loaded machine can come after the container's exit:
// an exit by SIGKILL (137) is inspected again for up to oomSettle.
func (e *Executor) oomKilled(ctx context.Context, id string, exit int) (bool, error) {
	ctx = context.WithoutCancel(ctx)
	deadline := time.Now().Add(oomSettle)
	for {
		info, err := e.api.ContainerInspect(ctx, id)
		if err != nil {
			return false, fmt.Errorf("inspect container: %w", err)
		}
		oom := info.State != nil && info.State.OOMKilled
		if oom || exit != 137 || time.Now().After(deadline) {
			return oom, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}
