package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/narwhal-ci/narwhal/internal/artifact"
	"github.com/narwhal-ci/narwhal/internal/blob"
)

// localArtifactSweep is how often runnerd deletes the expired artifacts it
// keeps on its own disk; expiry is by the day, so hourly is exact enough.
const localArtifactSweep = time.Hour

// sweepLocalArtifacts starts deleting, at once and every
// localArtifactSweep, the expired artifacts of a runner that keeps them on
// its disk (artifacts.dir): nobody else would, since the dispatcher's
// monitor sweeps only the bucket it serves. release stops it. A runner
// with artifacts in S3 or off sweeps nothing.
func (d *daemon) sweepLocalArtifacts() {
	if d.localArtifacts == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		sweepArtifactsEvery(ctx, d.localArtifacts, localArtifactSweep, d.log)
	}()
	d.closers = append(d.closers, func() { cancel(); <-done })
}

// sweepArtifactsEvery runs artifact.SweepExpired on store now and every
// interval until ctx ends, logging what it deleted and what failed.
func sweepArtifactsEvery(ctx context.Context, store blob.Store, every time.Duration, log *slog.Logger) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		n, err := artifact.SweepExpired(ctx, store, time.Now())
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("sweep of expired artifacts failed", "deleted", n, "err", err)
		case n > 0:
			log.Info("expired artifacts deleted", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
