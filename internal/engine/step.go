package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/narwhal-ci/narwhal/internal/executor"
	"github.com/narwhal-ci/narwhal/internal/logsink"
	"github.com/narwhal-ci/narwhal/internal/pipeline"
)

// runStep runs step i with its retries, in the step's goroutine, and returns
// its final result. Its log is complete when it returns.
func (r *jobRun) runStep(ctx context.Context, i int, started time.Time) stepDone {
	ps := &r.job.Pipeline.Steps[i]
	w := r.sink.Writer(ps.Name)
	defer w.Close()
	hooks := r.job.Hooks
	if hooks != nil {
		hooks.BeforeStep(ctx, ps, w.Note)
	}
	res := r.attempts(ctx, ps, w)
	res.AllowedFailure = res.Status == StepFailure && ps.AllowFailure
	if hooks != nil {
		hooks.AfterStep(ctx, ps, res, w.Note)
	}
	res.Name, res.StartedAt, res.FinishedAt = ps.Name, started, time.Now()
	res.Duration = res.FinishedAt.Sub(started)
	return stepDone{i: i, r: res}
}

// attempts runs the step until it does not fail, it has used its retries or
// the job ends.
func (r *jobRun) attempts(ctx context.Context, ps *pipeline.Step, w *logsink.Writer) StepResult {
	spec, err := StepSpec(r.job, ps)
	if err != nil {
		w.Note(err.Error())
		return StepResult{Status: StepFailure, ExitCode: -1, Attempts: 1, Error: err.Error(), Reason: err.Error()}
	}
	for n := 1; ; n++ {
		xr, err := r.e.Exec.Run(ctx, r.xjob, &spec, w)
		res := classify(ctx, xr, err, ps.Timeout)
		res.Attempts = n
		res.Error = r.sink.Masker().String(res.Error)
		res.Reason = r.sink.Masker().String(res.Reason)
		if res.Status == StepFailure {
			w.Note(res.Reason)
		}
		if res.Status != StepFailure || n > ps.Retry || ctx.Err() != nil {
			return res
		}
		w.Note(fmt.Sprintf("retry %d/%d", n, ps.Retry))
	}
}

// classify turns what the executor returned into a step result.
func classify(ctx context.Context, xr executor.Result, err error, timeout time.Duration) StepResult {
	res := StepResult{Status: StepFailure, ExitCode: xr.ExitCode, OOMKilled: xr.OOMKilled, TimedOut: xr.TimedOut}
	switch {
	case xr.Cancelled || (err != nil && ctx.Err() != nil):
		res.Status, res.Reason = StepCancelled, "cancelled"
	case err != nil:
		res.ExitCode, res.Error = -1, err.Error()
		res.Reason = "executor: " + err.Error()
	case xr.TimedOut:
		res.Reason = "timed out after " + fmtDuration(timeout)
	case xr.OOMKilled:
		res.Reason = "killed: out of memory"
	case xr.ExitCode != 0:
		res.Reason = fmt.Sprintf("exit code %d", xr.ExitCode)
	default:
		res.Status = StepSuccess
	}
	return res
}
