package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/pipeline"
	"github.com/narwhal-ci/narwhal/internal/snapshot"
)

// DefaultSnapshotKeep is how long a runner's own snapshot store keeps a
// workspace snapshot (the sweep, and the dispatcher's SnapshotKeep).
const DefaultSnapshotKeep = 24 * time.Hour

// SnapshotSweep is how often the runner deletes expired snapshots.
const SnapshotSweep = time.Hour

// sweepSnapshots deletes the snapshots older than Deps.SnapshotKeep.
func (r *Runner) sweepSnapshots(ctx context.Context) {
	keep := cmp.Or(r.deps.SnapshotKeep, DefaultSnapshotKeep)
	if r.deps.Snapshots == nil || keep < 0 {
		return
	}
	n, err := r.deps.Snapshots.Sweep(ctx, snapshot.Prefix, time.Now().Add(-keep))
	if err != nil {
		r.log.Warn("sweep workspace snapshots", "err", err)
		return
	}
	if n > 0 {
		r.log.Info("swept expired workspace snapshots", "removed", n)
	}
}

// snapshots are the keys of the workspaces saved so far in one job, by step,
// for its step reports. The engine calls AfterSuccess and then StepFinished
// for a step, from one goroutine; the lock is for the reports' readers.
type snapshots struct {
	mu   sync.Mutex
	keys map[string]string
}

func (s *snapshots) set(step, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		s.keys = map[string]string{}
	}
	s.keys[step] = key
}

func (s *snapshots) get(step string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[step]
}

// restore fills the empty workspace dir of a re-run from the snapshot its
// Resume names, and parses the narwhal.yml in it (the parent's: the same
// commit). A snapshot that is gone ends the job in error with the way out.
func (r *Runner) restore(ctx context.Context, j *job, dir string) (*pipeline.Pipeline, error) {
	res := j.spec.Resume
	if r.deps.Snapshots == nil {
		return nil, fmt.Errorf("re-run from step %s: this runner keeps no workspace snapshots; re-run the whole job", res.From)
	}
	start := time.Now()
	n, err := snapshot.Get(ctx, r.deps.Snapshots, res.Snapshot, dir, r.deps.SnapshotLimits)
	if errors.Is(err, ci.ErrNotFound) {
		return nil, fmt.Errorf("re-run from step %s: the workspace snapshot %s is not in this runner's store "+
			"(expired, or kept by another runner: give the fleet one S3 bucket, docs/runnerd.md); re-run the whole job",
			res.From, res.Snapshot)
	}
	if err != nil {
		return nil, fmt.Errorf("re-run from step %s: %w", res.From, err)
	}
	j.ship.Line(RunnerStep, fmt.Appendf(nil, "[narwhal] re-run from step %s: workspace restored from %s (%s in %s)",
		res.From, res.Snapshot, fmtBytes(n), time.Since(start).Round(time.Millisecond)))
	return ParsePipeline(dir)
}

// saver is the engine's AfterSuccess for job j of pipeline p: it saves the
// workspace as the snapshot of the step that just succeeded, and notes it in
// the step's log. A step no other step depends on is never one a re-run
// starts after, so it is not saved. nil when no snapshot is kept: no store,
// or a pull request from a fork (its workspace is the fork's to shape, and
// its re-runs start over).
func (r *Runner) saver(j *job, dir string, p *pipeline.Pipeline) func(ctx context.Context, step string) {
	if r.deps.Snapshots == nil || j.spec.Fork {
		return nil
	}
	needed := map[string]bool{}
	for _, s := range p.Steps {
		for _, d := range p.Deps(s.Name) {
			needed[d] = true
		}
	}
	return func(ctx context.Context, step string) {
		if !needed[step] {
			return
		}
		key := snapshot.Key(j.spec.ID, int(j.attempt.Load()), step)
		start := time.Now()
		n, size, err := snapshot.Put(ctx, r.deps.Snapshots, key, dir, r.cfg.WorkDir, r.deps.SnapshotLimits)
		if err != nil {
			j.log.Warn("workspace not saved", "step", step, "err", err)
			j.ship.Line(step, fmt.Appendf(nil, "[narwhal] workspace not saved for a re-run from a later step: %v", err))
			return
		}
		j.snaps.set(step, key)
		j.ship.Line(step, fmt.Appendf(nil, "[narwhal] workspace saved for a re-run from a later step (%s, %s compressed, %s)",
			fmtBytes(n), fmtBytes(size), time.Since(start).Round(time.Millisecond)))
	}
}

// fmtBytes is n in the largest unit that keeps it above 1.
func fmtBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
