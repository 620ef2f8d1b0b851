package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/workspace"
)

// errShutdown is the cancellation cause of jobs still running when the
// runner closes; like a drain, they are handed back for requeue.
var errShutdown = errors.New("runner shutting down: job handed back for requeue")

// Start prepares the runner to serve: it removes what a crashed runner left
// behind (the executor's Sweep, every directory in WorkDir), reports the
// runner's registration, and starts the heartbeat reports. Call it once,
// before serving; a failed sweep of the executor is an error (the daemon
// cannot reach its executor), leftovers that cannot be removed are logged.
func (r *Runner) Start(ctx context.Context) error {
	if err := os.MkdirAll(r.cfg.WorkDir, 0o700); err != nil {
		return fmt.Errorf("start runner: work dir: %w", err)
	}
	n, err := workspace.Sweep(r.cfg.WorkDir, 0)
	if err != nil {
		r.log.Warn("sweep work dir", "dir", r.cfg.WorkDir, "err", err)
	}
	r.log.Info("swept work dir", "dir", r.cfg.WorkDir, "removed", n)
	if r.deps.Sweep != nil {
		n, err := r.deps.Sweep(ctx)
		if err != nil {
			return fmt.Errorf("start runner: sweep executor: %w", err)
		}
		r.log.Info("swept executor leftovers", "removed", n)
	}
	r.reporter.send(ci.RunnerEvent{Kind: ci.EventRegister, Runner: r.snapshot(ci.RunnerActive)})
	bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.stopBeat, r.beatDone = cancel, make(chan struct{})
	go r.heartbeats(bctx)
	return nil
}

// heartbeats reports the runner's state every Heartbeat until ctx ends,
// and sweeps old snapshots every SnapshotSweep.
func (r *Runner) heartbeats(ctx context.Context) {
	defer close(r.beatDone)
	t := time.NewTicker(r.cfg.Heartbeat)
	defer t.Stop()
	sweep := time.NewTicker(SnapshotSweep)
	defer sweep.Stop()
	r.sweepSnapshots(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.heartbeat("")
		case <-sweep.C:
			r.sweepSnapshots(ctx)
		}
	}
}

// heartbeat reports the runner's state now; state "" means the current one.
func (r *Runner) heartbeat(state ci.RunnerState) {
	snap := r.snapshot(state)
	r.reporter.sendWith(ci.RunnerEvent{Kind: ci.EventHeartbeat, Runner: snap},
		map[string]string{"load-average": fmtLoad(loadAverage())})
}

// snapshot describes the runner for a register or heartbeat report: its
// settings, its load, the process's boot ID and the jobs it holds, so that
// the dispatcher can settle what it has on record for the runner.
func (r *Runner) snapshot(state ci.RunnerState) *ci.Runner {
	r.mu.Lock()
	st, running, jobs := r.st, len(r.active), r.held()
	r.mu.Unlock()
	if state == "" {
		state = stateOf(st)
	}
	used, pressure := r.diskStatus()
	return &ci.Runner{
		ID: r.cfg.ID, Address: r.cfg.Address, Labels: st.labels, Capacity: st.capacity,
		Running: running, State: state, FreeDiskBytes: freeDisk(r.cfg.WorkDir),
		DiskUsedPercent: used, DiskPressure: pressure,
		Version: r.cfg.Version, LastHeartbeat: time.Now().UTC(), BootID: r.reporter.boot, Jobs: jobs,
	}
}

// held lists the active jobs with the attempts their reports name, sorted by
// ID; r.mu is held.
func (r *Runner) held() []ci.JobRef {
	jobs := make([]ci.JobRef, 0, len(r.active))
	for id, j := range r.active {
		jobs = append(jobs, ci.JobRef{ID: id, Attempt: int(j.attempt.Load())})
	}
	slices.SortFunc(jobs, func(a, b ci.JobRef) int { return strings.Compare(a.ID, b.ID) })
	return jobs
}

func stateOf(st state) ci.RunnerState {
	if st.draining || st.closed {
		return ci.RunnerDraining
	}
	return ci.RunnerActive
}

// Wait returns when no job is running (each torn down and reported), or with
// ctx's cause when ctx ends first. It does not stop new jobs: Drain first.
func (r *Runner) Wait(ctx context.Context) error {
	for {
		r.mu.Lock()
		n, ch := len(r.active), r.changed
		r.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for %d jobs: %w", n, context.Cause(ctx))
		}
	}
}

// Close ends the runner: later calls return ci.ErrClosed, jobs still running
// are cancelled and reported for requeue (as at the end of a drain), and
// Close waits for them to be torn down until ctx ends. A last heartbeat
// reports the runner offline; the heartbeats stop. A final report that the
// outbox keeps refusing is retried until Close returns, not after. Close is
// idempotent.
func (r *Runner) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.st.closed {
		r.mu.Unlock()
		return nil
	}
	r.st.closed = true
	if r.drainTimer != nil {
		r.drainTimer.Stop()
	}
	r.handBack(errShutdown)
	r.mu.Unlock()
	err := r.Wait(ctx)
	r.reporter.stop() // a final report still refused by the outbox is given up
	if r.stopBeat != nil {
		r.stopBeat()
		<-r.beatDone
	}
	r.heartbeat(ci.RunnerOffline)
	return err
}

// handBack cancels every active job with cause (errDrained or
// errShutdown), which reports it for requeue; a job already cancelled keeps
// its first cause. r.mu is held.
func (r *Runner) handBack(cause error) {
	for _, j := range r.active {
		j.cancel(cause)
	}
}

// Accepting reports whether the runner takes new jobs: it is neither
// draining nor closed (runnerd's /healthz).
func (r *Runner) Accepting() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.st.draining && !r.st.closed
}
