package main

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/narwhal-ci/narwhal/internal/engine"
	"github.com/narwhal-ci/narwhal/internal/runner"
)

// Shutdown budgets beyond the drain deadline.
const (
	// teardownMargin is how long jobs cancelled at the drain deadline get to
	// tear down and report.
	teardownMargin = engine.DefaultTeardownTimeout + runner.LogCloseTimeout
	// flushTimeout is how long the outbox gets to publish what is left.
	flushTimeout = 5 * time.Second
	// stopTimeout is how long in-flight RPCs get before the server stops.
	stopTimeout = 5 * time.Second
)

// start readies the runner (sweeps, register report, heartbeats) and serves
// gRPC and metrics. The channel gets the error of a server that stops by
// itself.
func (d *daemon) start(ctx context.Context) (<-chan error, error) {
	if err := d.runner.Start(ctx); err != nil {
		return nil, err
	}
	failed := make(chan error, 2)
	go func() {
		if err := d.grpc.Serve(d.lis); err != nil {
			failed <- fmt.Errorf("grpc server: %w", err)
		}
	}()
	go func() {
		if err := d.metrics.serve(); err != nil {
			failed <- fmt.Errorf("metrics server: %w", err)
		}
	}()
	d.log.Info("runnerd serving", "version", version, "grpc_addr", d.lis.Addr().String(),
		"metrics_addr", d.metrics.Addr(), "executor", d.cfg.Executor.Kind,
		"capacity", d.cfg.Capacity, "labels", d.cfg.Labels)
	return failed, nil
}

// stop drains and shuts down: health NOT_SERVING, no new jobs, running jobs
// get the drain timeout (a second SIGTERM or SIGINT cuts it short) and are
// then handed back for requeue, the outbox gets a few seconds to publish,
// and the servers stop.
func (d *daemon) stop(sigs <-chan os.Signal) {
	ctx := context.Background()
	d.health.SetServing(false)
	if err := d.runner.Drain(ctx, d.cfg.DrainTimeout); err != nil {
		d.log.Warn("drain", "err", err)
	}
	d.waitJobs(sigs)
	cctx, cancel := context.WithTimeout(ctx, teardownMargin)
	if err := d.runner.Close(cctx); err != nil {
		d.log.Warn("close runner", "err", err)
	}
	cancel()
	d.flush()
	d.stopServers()
	d.release()
	d.log.Info("runnerd stopped")
}

// waitJobs waits for the running jobs, through the drain deadline and the
// teardown of the jobs cancelled at it.
func (d *daemon) waitJobs(sigs <-chan os.Signal) {
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.DrainTimeout+teardownMargin)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.runner.Wait(ctx) }()
	for {
		select {
		case err := <-done:
			if err != nil {
				d.log.Warn("jobs still running at shutdown", "err", err)
			}
			return
		case s := <-sigs:
			if s != syscall.SIGHUP {
				d.log.Warn("second signal: handing running jobs back now", "signal", s.String())
				d.runner.Drain(ctx, time.Millisecond)
			}
		}
	}
}

// flush gives the outbox flushTimeout to publish what it holds; what is left
// stays on disk for the next start.
func (d *daemon) flush() {
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	if err := d.outbox.Flush(ctx); err != nil {
		d.log.Warn("reports left in the outbox for the next start", "pending", d.outbox.Pending(), "err", err)
	}
}

// stopServers stops the gRPC server (gracefully for stopTimeout) and the
// metrics server.
func (d *daemon) stopServers() {
	stopped := make(chan struct{})
	go func() { d.grpc.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(stopTimeout):
		d.grpc.Stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	d.metrics.shutdown(ctx)
}

// reload rereads the configuration (file and environment) and applies its
// labels and capacity; other changes need a restart.
func (d *daemon) reload(path string, getenv func(string) string) {
	cfg, err := loadConfig(path, getenv)
	if err != nil {
		d.log.Error("reload: configuration kept", "err", err)
		return
	}
	if err := d.runner.Reload(cfg.Labels, cfg.Capacity); err != nil {
		d.log.Error("reload", "err", err)
		return
	}
	d.cfg.Labels, d.cfg.Capacity = cfg.Labels, cfg.Capacity
}
