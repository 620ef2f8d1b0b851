package ci

import (
	"fmt"
	"slices"
)

// Status is the state of a job. The machine:
//
//	queued ──▶ assigned ──▶ running ──▶ success | failure | error | cancelled
//	  ▲           │            │
//	  └───────────┴────────────┘  requeue (attempt+1): the runner was lost or rejected the job
//
// A queued job whose pipeline does not run for it (its when filter, such as
// a path filter, does not match) goes straight to skipped, with the reason
// in Error.
//
// Any non-final state may also go to error (gave up) or cancelled (a user asked).
type Status string

// Job states.
const (
	StatusQueued    Status = "queued"
	StatusAssigned  Status = "assigned"
	StatusRunning   Status = "running"
	StatusSuccess   Status = "success"
	StatusFailure   Status = "failure"
	StatusError     Status = "error"
	StatusCancelled Status = "cancelled"
	StatusSkipped   Status = "skipped"
)

// Statuses lists every job state, in the order of the machine.
var Statuses = []Status{StatusQueued, StatusAssigned, StatusRunning, StatusSuccess, StatusFailure, StatusError, StatusCancelled, StatusSkipped}

var transitions = map[Status][]Status{
	StatusQueued:   {StatusAssigned, StatusError, StatusCancelled, StatusSkipped},
	StatusAssigned: {StatusRunning, StatusQueued, StatusError, StatusCancelled, StatusSuccess, StatusFailure},
	StatusRunning:  {StatusSuccess, StatusFailure, StatusError, StatusCancelled, StatusQueued},
}

// Valid reports whether s is one of the known states.
func (s Status) Valid() bool { return slices.Contains(Statuses, s) }

// Final reports whether s ends the job: nothing moves it any more.
func (s Status) Final() bool {
	return s == StatusSuccess || s == StatusFailure || s == StatusError || s == StatusCancelled || s == StatusSkipped
}

// CanMove reports whether the machine allows from → to. A move to the same
// state is not a transition (callers treat it as already done).
func CanMove(from, to Status) bool { return slices.Contains(transitions[from], to) }

// Move applies the transition to j, or returns an *IllegalTransitionError.
// A requeue (to queued) increments the attempt and clears the runner.
func (j *Job) Move(to Status) error {
	if !CanMove(j.Status, to) {
		return &IllegalTransitionError{JobID: j.ID, From: j.Status, To: to}
	}
	if to == StatusQueued {
		j.Attempt++
		j.RunnerID = ""
		j.Published = false
	}
	j.Status = to
	return nil
}

// IllegalTransitionError says a state change is not allowed from the job's
// current state; it matches ErrIllegalTransition with errors.Is.
type IllegalTransitionError struct {
	JobID    string
	From, To Status
}

func (e *IllegalTransitionError) Error() string {
	return fmt.Sprintf("job %s: illegal transition %s → %s", e.JobID, e.From, e.To)
}

// Is makes errors.Is(err, ErrIllegalTransition) true.
func (e *IllegalTransitionError) Is(target error) bool { return target == ErrIllegalTransition }
