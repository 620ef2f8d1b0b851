package ci

import "time"

// EventKind says what a runner reports.
type EventKind string

// Runner report kinds.
const (
	// EventRegister: a runner started (Runner is set).
	EventRegister EventKind = "register"
	// EventHeartbeat: a runner is alive (Runner is set: load, free disk, labels, state).
	EventHeartbeat EventKind = "heartbeat"
	// EventJob: a job changed state (JobID, Attempt, Status; Error for error/cancelled;
	// Requeue when a draining runner gives the job back). A running job is
	// reported again, with TimeoutSeconds and Plan, once its pipeline is read.
	EventJob EventKind = "job"
	// EventStep: a step changed state (JobID, Attempt, Step).
	EventStep EventKind = "step"
)

// RunnerEvent is one report from a runner to the control plane, carried as the
// JSON body of a queue message. Reports are delivered at least once and in
// order per runner (Seq increases by one per report of a runner process), so
// consumers apply them idempotently: a job event only moves a job forward.
type RunnerEvent struct {
	Kind     EventKind `json:"kind"`
	RunnerID string    `json:"runner_id"`
	Seq      uint64    `json:"seq"`
	Time     time.Time `json:"time"`

	JobID   string `json:"job_id,omitempty"`
	Attempt int    `json:"attempt,omitempty"`
	Status  Status `json:"status,omitempty"`
	Error   string `json:"error,omitempty"`
	Requeue bool   `json:"requeue,omitempty"`
	Step    *Step  `json:"step,omitempty"`
	// TimeoutSeconds is the job's time limit on the runner, in a running
	// report sent once the pipeline is known; 0 means not known yet.
	TimeoutSeconds int64 `json:"timeout_seconds,omitempty"`
	// Plan is every step of the pipeline, pending, with its dependencies, in
	// the same running report: what the job page draws before steps run.
	Plan []Step `json:"plan,omitempty"`

	Runner *Runner `json:"runner,omitempty"`
}
