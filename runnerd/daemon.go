package main

import (
	"context"
	"fmt"
	"os"
	"syscall"

	"github.com/narwhal-ci/narwhal/internal/runnerhost"
)

// start readies the runner (sweeps, register report, heartbeats), starts
// the disk guard, and serves gRPC and metrics. The channel gets the error
// of a server that stops by itself.
func (d *daemon) start(ctx context.Context) (<-chan error, error) {
	hostFailed, err := d.host.Start(ctx)
	if err != nil {
		return nil, err
	}
	d.disk.run(ctx)
	d.sweepLocalArtifacts()
	failed := make(chan error, 2)
	go func() { failed <- <-hostFailed }()
	go func() {
		if err := d.metrics.serve(); err != nil {
			failed <- fmt.Errorf("metrics server: %w", err)
		}
	}()
	d.log.Info("runnerd serving", "version", version, "grpc_addr", d.host.Addr().String(),
		"metrics_addr", d.metrics.Addr(), "executor", d.cfg.Executor.Kind,
		"capacity", d.cfg.Capacity, "labels", d.cfg.Labels)
	return failed, nil
}

// stop drains and shuts down: health NOT_SERVING, no new jobs, running jobs
// get the drain timeout (a second SIGTERM or SIGINT cuts it short) and are
// then handed back for requeue, the disk guard stops, the outbox gets a
// few seconds to publish, and the servers stop.
func (d *daemon) stop(sigs <-chan os.Signal) {
	ctx := context.Background()
	cut, done := make(chan struct{}), make(chan struct{})
	go cutOnSignal(sigs, cut, done)
	d.host.StopJobs(ctx, runnerhost.Stop{Drain: d.cfg.DrainTimeout, Cut: cut})
	close(done)
	d.disk.halt()
	d.host.Close(ctx)
	sctx, cancel := context.WithTimeout(ctx, runnerhost.StopTimeout)
	d.metrics.shutdown(sctx)
	cancel()
	d.release()
	d.log.Info("runnerd stopped")
}

// cutOnSignal closes cut on the first SIGTERM or SIGINT (SIGHUP is no
// reason to cut a drain short), until done.
func cutOnSignal(sigs <-chan os.Signal, cut, done chan struct{}) {
	for {
		select {
		case <-done:
			return
		case s := <-sigs:
			if s != syscall.SIGHUP {
				close(cut)
				return
			}
		}
	}
}

// reload rereads the configuration (file and environment) and applies its
// labels and capacity; other changes need a restart.
func (d *daemon) reload(path string, getenv func(string) string) {
	cfg, err := loadConfig(path, getenv)
	if err != nil {
		d.log.Error("reload: configuration kept", "err", err)
		return
	}
	if err := d.host.Runner().Reload(cfg.Labels, cfg.Capacity); err != nil {
		d.log.Error("reload", "err", err)
		return
	}
	d.cfg.Labels, d.cfg.Capacity = cfg.Labels, cfg.Capacity
}
