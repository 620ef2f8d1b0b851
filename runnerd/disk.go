package main

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/narwhal-ci/narwhal/internal/diskguard"
	"github.com/narwhal-ci/narwhal/internal/executor/docker/dockerevict"
)

// diskGuard is runnerd's disk guard (DiskConfig): it watches the work dir,
// the log and snapshot directories and, with the Docker executor, Docker's
// data root, and evicts leftover workspaces and what Docker keeps unused.
// It runs from start to stop.
type diskGuard struct {
	guard  *diskguard.Guard
	docker *dockerevict.Docker // nil without the Docker executor
	// reclaim is the executor's Reclaim (set while the host is built, read
	// only by passes after start): leftover workspaces are leftovers
	// because a plain removal failed.
	reclaim func(ctx context.Context, dir string) error
	stop    context.CancelFunc
	done    chan struct{}
}

// newDiskGuard builds the guard of d's configuration; nil when it is off.
// Its evictors and its OnChange reach the runner through d.host, which
// build sets before start runs the guard.
func (d *daemon) newDiskGuard(ctx context.Context) (*diskGuard, error) {
	c := d.cfg
	if c.Disk.Off {
		return nil, nil
	}
	dg := &diskGuard{}
	paths := []string{c.WorkDir, c.Logs.Dir}
	if !c.Snapshots.Off && c.Snapshots.S3Bucket == "" {
		paths = append(paths, c.Snapshots.Dir)
	}
	evictors := []diskguard.Evictor{diskguard.Workspaces{Root: filepath.Join(c.WorkDir, jobsDir),
		Running: d.runningJobs, Reclaim: dg.reclaimDir}}
	if c.Executor.Kind == "docker" {
		dk, err := dockerevict.Open(ctx, d.log)
		if err != nil {
			return nil, err
		}
		dg.docker = dk
		paths = append(paths, dk.Root())
		evictors = append(evictors, dk.Images(), dk.Volumes())
	}
	more, stores := d.storeDisk()
	paths, evictors = append(paths, more...), append(evictors, stores...)
	g, err := diskguard.New(diskguard.Options{Paths: paths, High: c.Disk.HighWatermark, Low: c.Disk.LowWatermark,
		Interval: c.Disk.Interval, Evictors: evictors, Logger: d.log,
		OnChange: func(string) { d.host.Runner().DiskChanged() }})
	if err != nil {
		dg.close()
		return nil, err
	}
	dg.guard = g
	return dg, nil
}

// runningJobs lists the IDs of the runner's running jobs.
func (d *daemon) runningJobs(ctx context.Context) ([]string, error) {
	st, err := d.host.Runner().Stats(ctx)
	return st.Running, err
}

// useReclaim gives the workspace evictor the executor's Reclaim (nil when
// the executor leaves nothing the runner cannot remove).
func (dg *diskGuard) useReclaim(reclaim func(ctx context.Context, dir string) error) {
	if dg != nil {
		dg.reclaim = reclaim
	}
}

// reclaimDir is the executor's Reclaim of dir, when it has one.
func (dg *diskGuard) reclaimDir(ctx context.Context, dir string) error {
	if dg.reclaim == nil {
		return errors.New("the executor cannot reclaim what the runner cannot remove")
	}
	return dg.reclaim(ctx, dir)
}

// status is the guard's Status; nil (off) reports nothing.
func (dg *diskGuard) status() func() (float64, string) {
	if dg == nil {
		return nil
	}
	return dg.guard.Status
}

// run starts the passes (and Docker's record of image use).
func (dg *diskGuard) run(ctx context.Context) {
	if dg == nil {
		return
	}
	ctx, dg.stop = context.WithCancel(context.WithoutCancel(ctx))
	dg.done = make(chan struct{})
	go func() {
		defer close(dg.done)
		if dg.docker != nil {
			go dg.docker.Watch(ctx)
		}
		dg.guard.Run(ctx)
	}()
}

// halt stops the passes and waits for the one under way.
func (dg *diskGuard) halt() {
	if dg == nil || dg.stop == nil {
		return
	}
	dg.stop()
	<-dg.done
}

// close releases the Docker client.
func (dg *diskGuard) close() {
	if dg != nil && dg.docker != nil {
		dg.docker.Close()
	}
}
