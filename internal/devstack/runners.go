package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"google.golang.org/grpc"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor/pick"
	"github.com/narwhal-ci/narwhal/internal/logstore"
	"github.com/narwhal-ci/narwhal/internal/outbox"
	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/runner"
	"github.com/narwhal-ci/narwhal/internal/runnerkey"
)

// Shutdown budgets of a runner.
const (
	// cancelWait is how long cancelled jobs get to tear down (containers
	// removed, log closed, report enqueued).
	cancelWait = 30 * time.Second
	// flushWait is how long a runner's outbox gets to publish its last reports.
	flushWait = 5 * time.Second
	// grpcStopWait is how long in-flight RPCs get before the server stops.
	grpcStopWait = 3 * time.Second
)

// devRunner is one in-process runnerd: a runner.Runner behind a real gRPC
// server with TLS and its own token on a loopback port, reporting through its own
// durable outbox into the queue.
type devRunner struct {
	id     string
	runner *runner.Runner
	outbox *outbox.Outbox
	health *rpc.Health
	grpc   *grpc.Server
	lis    net.Listener
	exec   pick.Built
	log    *slog.Logger
}

// runnerParts are what every dev runner shares.
type runnerParts struct {
	name      string // the runners' name prefix
	dir       string // the state directory
	capacity  int
	heartbeat time.Duration
	version   string
	secrets   secrets
	queue     ci.Queue
	logs      logstore.Store
	newExec   func(ctx context.Context, runnerID string) (pick.Built, error)
	log       *slog.Logger
}

// startRunner builds runner number n and starts serving it; on error what was
// made is released.
func startRunner(ctx context.Context, p runnerParts, n int) (dr *devRunner, err error) {
	id := fmt.Sprintf("%s-%d", p.name, n)
	dr = &devRunner{id: id, health: rpc.NewHealth(), log: p.log.With("runner_id", id)}
	made := dr // the returns below set dr to nil
	defer func() {
		if err != nil {
			made.release()
		}
	}()
	if dr.lis, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("runner %s: listen: %w", id, err)
	}
	base := filepath.Join(p.dir, runnersDir, id)
	// The outbox outlives ctx: it must publish the reports of the shutdown.
	// Its lock claims the runner ID, so it comes before the executor: a
	// second process on the same dir stops here, before its executor's sweep
	// could remove the containers of the first.
	dr.outbox, err = outbox.Open(context.WithoutCancel(ctx), filepath.Join(base, "outbox"), p.queue.Publish,
		outbox.Options{InitialBackoff: 50 * time.Millisecond, MaxBackoff: 2 * time.Second}, dr.log)
	if err != nil {
		return nil, fmt.Errorf("runner %s: open outbox (is another narwhal dev using %s?): %w", id, p.dir, err)
	}
	if dr.exec, err = p.newExec(ctx, id); err != nil {
		return nil, fmt.Errorf("runner %s: %w", id, err)
	}
	token := runnerkey.Token(p.secrets.fleetKey, id)
	dr.runner, err = runner.New(runner.Config{
		ID: id, Token: token, Address: dr.lis.Addr().String(), Capacity: p.capacity, WorkDir: filepath.Join(base, "jobs"),
		Heartbeat: p.heartbeat, Version: p.version,
	}, runner.Deps{Exec: dr.exec.Executor, Sweep: dr.exec.Sweep, Reclaim: dr.exec.Reclaim, Reports: dr.outbox, Logs: p.logs, Logger: dr.log})
	if err != nil {
		return nil, fmt.Errorf("runner %s: %w", id, err)
	}
	dr.grpc, err = rpc.NewServer(dr.runner, rpc.ServerConfig{CertPEM: p.secrets.certPEM, KeyPEM: p.secrets.keyPEM,
		Tokens: []string{token}, Health: dr.health}, dr.log)
	if err != nil {
		return nil, fmt.Errorf("runner %s: %w", id, err)
	}
	if err := dr.runner.Start(ctx); err != nil {
		return nil, fmt.Errorf("runner %s: start: %w", id, err)
	}
	go dr.grpc.Serve(dr.lis) // returns when the server stops
	return dr, nil
}

// stopJobs drains the runner and cancels the jobs it runs, then waits for
// them to be torn down and reported. It returns the IDs of the jobs it
// cancelled.
func (dr *devRunner) stopJobs(ctx context.Context) []string {
	dr.health.SetServing(false)
	if err := dr.runner.Drain(ctx, cancelWait); err != nil && !errors.Is(err, ci.ErrClosed) {
		dr.log.Warn("drain", "err", err)
	}
	st, err := dr.runner.Stats(ctx)
	if err != nil {
		dr.log.Warn("stats at shutdown", "err", err)
	}
	for _, id := range st.Running {
		if err := dr.runner.Cancel(ctx, id); err != nil && !errors.Is(err, ci.ErrNotFound) {
			dr.log.Warn("cancel at shutdown", "job_id", id, "err", err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, cancelWait)
	defer cancel()
	if err := dr.runner.Wait(wctx); err != nil {
		dr.log.Warn("jobs still running at shutdown", "err", err)
	}
	return st.Running
}

// close ends the runner (a last offline heartbeat), gives the outbox a few
// seconds to publish, and stops the gRPC server.
func (dr *devRunner) close(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, cancelWait)
	if err := dr.runner.Close(cctx); err != nil {
		dr.log.Warn("close runner", "err", err)
	}
	cancel()
	fctx, cancel := context.WithTimeout(ctx, flushWait)
	if err := dr.outbox.Flush(fctx); err != nil {
		dr.log.Warn("reports left in the outbox for the next start", "pending", dr.outbox.Pending(), "err", err)
	}
	cancel()
	stopped := make(chan struct{})
	go func() { dr.grpc.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(grpcStopWait):
		dr.grpc.Stop()
	}
}

// release frees what startRunner made: the listener, the outbox, and the
// executor after a last sweep of what it may have left.
func (dr *devRunner) release() {
	if dr.grpc != nil {
		dr.grpc.Stop()
	}
	if dr.lis != nil {
		dr.lis.Close()
	}
	if dr.outbox != nil {
		dr.outbox.Close()
	}
	releaseExecutor(dr.exec, dr.log)
}
