package engine

import (
	"strings"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/pipeline"
)

// StepStatus is the state of one step: the job record's own (ci.StepStatus).
type StepStatus = ci.StepStatus

// Step states, as the job record has them.
const (
	StepPending   = ci.StepPending
	StepRunning   = ci.StepRunning
	StepSuccess   = ci.StepSuccess
	StepFailure   = ci.StepFailure
	StepSkipped   = ci.StepSkipped
	StepCancelled = ci.StepCancelled
)

// StepResult is how a step ended.
type StepResult struct {
	Name     string     `json:"name"`
	Status   StepStatus `json:"status"`
	ExitCode int        `json:"exit_code"`
	Attempts int        `json:"attempts,omitempty"` // Runs made, retries included
	// AllowedFailure: the step failed but has allow_failure, so the job
	// does not fail because of it.
	AllowedFailure bool `json:"allowed_failure,omitempty"`
	OOMKilled      bool `json:"oom_killed,omitempty"`
	TimedOut       bool `json:"timed_out,omitempty"` // the step's own timeout
	// Error says why the step could not run properly (an executor error, a
	// missing secret); such a failure makes the job an error, not a failure.
	Error string `json:"error,omitempty"`
	// Reason explains a skip, a cancellation or a failure, for people.
	Reason     string        `json:"reason,omitempty"`
	StartedAt  time.Time     `json:"started_at,omitzero"`
	FinishedAt time.Time     `json:"finished_at,omitzero"`
	Duration   time.Duration `json:"duration,omitempty"`
}

// Final reports whether the step has ended (or will never run).
func (r StepResult) Final() bool { return r.Status != StepPending && r.Status != StepRunning }

// Report is the outcome of a job.
//
// Status is success, failure (a step failed without allow_failure), error
// (the job could not run properly: invalid pipeline, Setup failed, a step's
// executor error or missing secret, the job timeout) or cancelled (ctx was
// cancelled). Error says why for error and cancelled. A job skipped by the
// pipeline's when filter has Skipped set, Status success and every step
// skipped.
type Report struct {
	Status    ci.Status     `json:"status"`
	Skipped   bool          `json:"skipped,omitempty"`
	Error     string        `json:"error,omitempty"`
	Steps     []StepResult  `json:"steps"` // in file order
	StartedAt time.Time     `json:"started_at"`
	Duration  time.Duration `json:"duration"`
}

// Step returns the result of the named step, or false.
func (r Report) Step(name string) (StepResult, bool) {
	for _, s := range r.Steps {
		if s.Name == name {
			return s, true
		}
	}
	return StepResult{}, false
}

// stepsWith returns a result per step of p, all with the given status.
func stepsWith(p *pipeline.Pipeline, st StepStatus, reason string) []StepResult {
	out := make([]StepResult, 0, len(p.Steps))
	for _, s := range p.Steps {
		out = append(out, StepResult{Name: s.Name, Status: st, Reason: reason})
	}
	return out
}

// invalidReport is the report of a job whose pipeline cannot run.
func invalidReport(p *pipeline.Pipeline, err error) Report {
	r := Report{Status: ci.StatusError, Error: err.Error(), StartedAt: time.Now()}
	if p != nil {
		r.Steps = stepsWith(p, StepSkipped, "invalid pipeline")
	}
	return r
}

// skippedReport is the report of a job whose pipeline when did not match;
// each step is reported to o as skipped.
func skippedReport(p *pipeline.Pipeline, o Observer) Report {
	r := Report{Status: ci.StatusSuccess, Skipped: true, StartedAt: time.Now()}
	r.Steps = stepsWith(p, StepSkipped, "pipeline when does not match")
	for _, s := range r.Steps {
		o.StepFinished(s.Name, s)
	}
	return r
}

// fmtDuration prints d without trailing zero units: 10m, 1h30m, 1.5s.
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
