package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/rpc"
)

// ErrCancelled is the cancellation cause of a job stopped by Cancel; the
// job's report carries its text as Error.
var ErrCancelled = errors.New("cancelled on request")

// errDrained is the cancellation cause of jobs still running when a drain's
// deadline passes; they are reported with Requeue set.
var errDrained = errors.New("runner draining: deadline passed, job handed back for requeue")

// Run accepts job when a slot is free and starts it in the background (see
// rpc.RunnerService). A job the runner holds or finished with the same or a
// later attempt is accepted again without a second run. Rejections: the
// runner is draining, its disk is under pressure (Deps.DiskStatus), every
// slot is busy, or the runner lacks one of the job's labels. A job that fails rpc.Job.Validate, or whose ID is not a
// ci.ValidJobID, is an rpc.ErrInvalidJob.
func (r *Runner) Run(_ context.Context, spec rpc.Job) (bool, string, error) {
	if err := spec.Validate(); err != nil {
		return false, "", err
	}
	// The ID names directories, log objects and container labels.
	if !ci.ValidJobID(spec.ID) {
		return false, "", fmt.Errorf("%w: job ID %q", rpc.ErrInvalidJob, spec.ID)
	}
	pressure := r.diskPressure()
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.st.closed:
		return false, "", ci.ErrClosed
	case r.active[spec.ID] != nil:
		r.adopt(r.active[spec.ID], spec.Attempt)
		return true, "", nil
	case r.recent.has(spec.ID, spec.Attempt):
		return true, "", nil
	case r.st.draining:
		return false, "runner draining", nil
	case pressure != "":
		return false, "runner under disk pressure: " + pressure, nil
	case len(r.active) >= r.st.capacity:
		return false, r.full(), nil
	}
	if missing := missingLabels(spec.Labels, r.st.labels); len(missing) > 0 {
		return false, "labels do not match: runner lacks " + strings.Join(missing, ", "), nil
	}
	r.start(spec)
	return true, "", nil
}

// adopt makes a running job answer for a later attempt: the dispatcher
// requeued it (it lost this runner's heartbeats for a while) and offered it
// here again. The work already under way is that attempt's work, so its
// reports from now on carry the new attempt, starting with running; without
// this the dispatcher would ignore them as stale and the job would wait for
// its timeout. r.mu is held.
func (r *Runner) adopt(j *job, attempt int) {
	if int64(attempt) <= j.attempt.Load() {
		return
	}
	j.attempt.Store(int64(attempt))
	j.log.Info("job offered again; reports now name the new attempt", "new_attempt", attempt)
	r.reporter.send(r.jobEvent(j, ci.StatusRunning, ""))
}

// missingLabels returns the labels of want that have is lacking.
func missingLabels(want, have []string) []string {
	var out []string
	for _, l := range want {
		if !slices.Contains(have, l) {
			out = append(out, l)
		}
	}
	return out
}

// Cancel stops a job the runner holds; its report says cancelled. A job that
// already finished is a no-op; one the runner never had is ci.ErrNotFound.
func (r *Runner) Cancel(_ context.Context, jobID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.st.closed {
		return ci.ErrClosed
	}
	if j := r.active[jobID]; j != nil {
		j.cancel(ErrCancelled)
		return nil
	}
	if r.recent.has(jobID, 0) {
		return nil
	}
	return fmt.Errorf("cancel job %s: %w", jobID, ci.ErrNotFound)
}

// Drain stops accepting jobs and gives the running ones until deadline (0:
// Config.DrainTimeout) to finish; then it cancels them and reports them with
// Requeue set. It returns at once; Wait waits for the runner to empty. A
// later Drain may shorten the deadline, never extend it.
func (r *Runner) Drain(_ context.Context, deadline time.Duration) error {
	if deadline <= 0 {
		deadline = r.cfg.DrainTimeout
	}
	at := time.Now().Add(deadline)
	r.mu.Lock()
	if r.st.closed {
		r.mu.Unlock()
		return ci.ErrClosed
	}
	first := !r.st.draining
	switch {
	case first:
		r.st.draining, r.st.drainAt = true, at
		r.drainTimer = time.AfterFunc(deadline, r.expireDrain)
	case at.Before(r.st.drainAt):
		r.st.drainAt = at
		r.drainTimer.Reset(deadline)
	}
	running := len(r.active)
	r.mu.Unlock()
	if first {
		r.log.Info("draining", "deadline", deadline, "running", running)
		r.heartbeat("")
	}
	return nil
}

// expireDrain hands back the jobs still running when the drain deadline
// passes.
func (r *Runner) expireDrain() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.active) > 0 {
		r.log.Warn("drain deadline passed; handing jobs back", "jobs", len(r.active))
	}
	r.handBack(errDrained)
}

// Stats reports the runner's identity, slots and load.
func (r *Runner) Stats(context.Context) (rpc.Stats, error) {
	r.mu.Lock()
	if r.st.closed {
		r.mu.Unlock()
		return rpc.Stats{}, ci.ErrClosed
	}
	st := rpc.Stats{
		RunnerID: r.cfg.ID, Capacity: r.st.capacity, Labels: slices.Clone(r.st.labels),
		State: stateOf(r.st), Version: r.cfg.Version,
	}
	for id := range r.active {
		st.Running = append(st.Running, id)
	}
	r.mu.Unlock()
	slices.Sort(st.Running)
	st.LoadAverage = loadAverage()
	st.FreeDiskBytes = freeDisk(r.cfg.WorkDir)
	return st, nil
}
