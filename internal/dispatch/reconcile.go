package dispatch

import (
	"context"
	"fmt"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// Reconciliation settles what the Store has on record for a runner with what
// the runner says it holds. A runner that reports a BootID lists in each
// register and heartbeat the jobs it holds (ci.Runner.Jobs, with the
// attempts their reports name). An assigned or running job of that runner
// that the runner's last report does not list is disowned: the runner
// restarted (kill -9, OOM, a panic, brought back inside the lease), or lost
// the job some other way, and no report about it will come. The dispatcher
// requeues such a job like one of a lost runner (recoverJob: attempt+1, or
// an error after Config.MaxAttempts).
//
// A job assigned moments ago may be missing from the runner's last report
// (the Run is still under way, or the report was sent before it), so a job
// is disowned only when that report was sent more than Config.ReconcileGrace
// after the job's last change (UpdatedAt). Every report about the job moves
// UpdatedAt, so a job its runner works on is never disowned by a report
// older than the work.
//
// The Monitor reconciles every assigned and running job on each run; a
// register or a heartbeat with a new boot ID (a runner process that
// started) settles that runner's jobs at once.

// DefaultReconcileGrace is Config.ReconcileGrace when it is zero: longer
// than a Run may take (DefaultRPCTimeout) and than runnerd's default
// heartbeat interval (15s).
const DefaultReconcileGrace = 20 * time.Second

// disowned reports whether r's last report says that r does not hold j.
func (d *Dispatcher) disowned(r ci.Runner, j ci.Job) bool {
	if r.BootID == "" || r.ID != j.RunnerID {
		return false // a runner that lists nothing, or not j's runner
	}
	if r.LastHeartbeat.Sub(j.UpdatedAt) <= d.cfg.ReconcileGrace {
		return false // the report may predate the job's assignment
	}
	for _, h := range r.Jobs {
		if h.ID == j.ID && h.Attempt >= j.Attempt {
			return false
		}
	}
	return true
}

// disownedWhy is the reason a requeued disowned job waits with.
func disownedWhy(r ci.Runner) string {
	return fmt.Sprintf("runner %s (boot %s) does not hold it", r.ID, r.BootID)
}

// restarted reports whether the report that made r (after old, if found)
// comes from a runner process that was not the one before.
func restarted(kind ci.EventKind, r, old ci.Runner, found bool) bool {
	if r.BootID == "" {
		return false
	}
	return kind == ci.EventRegister || !found || old.BootID != r.BootID
}

// settle reconciles the assigned and running jobs of runner r (just stored)
// with the jobs r lists.
func (d *Dispatcher) settle(ctx context.Context, r ci.Runner) error {
	var res MonitorResult
	for _, s := range []ci.Status{ci.StatusAssigned, ci.StatusRunning} {
		jobs, err := d.listJobs(ctx, s)
		if err != nil {
			return fmt.Errorf("settle runner %s: %w", r.ID, err)
		}
		for _, j := range jobs {
			if !d.disowned(r, j) {
				continue
			}
			still := func(cur ci.Job) bool { return d.disowned(r, cur) }
			if err := d.recoverJob(ctx, j, disownedWhy(r), still, &res); err != nil {
				return fmt.Errorf("settle runner %s: %w", r.ID, err)
			}
		}
	}
	return nil
}
