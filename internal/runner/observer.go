package runner

import (
	"cmp"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/engine"
)

// observer follows one job for the engine: step changes become reports, log
// lines go to the job's shipper, and the end of the job flushes the log and
// reports the final state before the executor's teardown. The engine
// serialises its calls.
type observer struct {
	r *Runner
	j *job
}

var _ engine.Observer = (*observer)(nil)

// StepStarted reports the step running.
func (o *observer) StepStarted(step string, at time.Time) {
	o.r.reporter.send(o.stepEvent(ci.Step{Name: step, Status: engine.StepRunning, StartedAt: at}))
}

// Log ships one line of the step's output.
func (o *observer) Log(step string, line []byte) { o.j.ship.Line(step, line) }

// StepFinished reports the step's final state.
func (o *observer) StepFinished(step string, res engine.StepResult) {
	o.r.reporter.send(o.stepEvent(ci.Step{
		Name: step, Status: res.Status, ExitCode: res.ExitCode,
		StartedAt: res.StartedAt, FinishedAt: res.FinishedAt,
		AllowedFailure: res.AllowedFailure, Reason: cmp.Or(res.Reason, res.Error), Attempts: res.Attempts,
		Snapshot: o.j.snaps.get(step), Caches: o.j.hooks.caches(step), Artifacts: o.j.hooks.artifacts(step),
	}))
}

// JobFinished flushes the log and reports the job's final state.
func (o *observer) JobFinished(rep engine.Report) { o.r.end(o.j, rep) }

func (o *observer) stepEvent(s ci.Step) ci.RunnerEvent {
	return ci.RunnerEvent{Kind: ci.EventStep, JobID: o.j.spec.ID, Attempt: int(o.j.attempt.Load()), Step: &s}
}
