package ci

import (
	"context"
	"errors"
	"time"
	"unicode/utf8"
)

// TooLargeError is the Error of a job that ended because its record grew
// over the store's item size.
const TooLargeError = "job record too large for the store: ended with its steps and texts trimmed"

// Limits EndTooLarge trims to.
const (
	trimText     = 1 << 10 // Message, Error, Waiting
	trimStepName = 128
)

// EndTooLarge shrinks j after the store refused it as too large (ErrTooLarge):
// a job that is not final yet ends in error with TooLargeError; its free
// texts and step names are clipped and its deliveries capped; dropSteps
// removes the steps altogether (the last resort). Final jobs keep their
// status. It is pure: Update applies it.
func EndTooLarge(j *Job, dropSteps bool) {
	if !j.Status.Final() {
		j.Status, j.Error = StatusError, TooLargeError
		if j.FinishedAt.IsZero() {
			j.FinishedAt = time.Now()
		}
	}
	j.Message, j.Error, j.Waiting = Clip(j.Message, trimText), Clip(j.Error, trimText), Clip(j.Waiting, trimText)
	if over := len(j.Deliveries) - MaxDeliveries; over > 0 {
		j.Deliveries = append(j.Deliveries[:1], j.Deliveries[1+over:]...)
		j.DeliveriesDropped += over
	}
	for i := range j.Steps {
		j.Steps[i].Name = Clip(j.Steps[i].Name, trimStepName)
	}
	if dropSteps {
		j.Steps = nil
	}
}

// Clip returns s cut to at most n bytes, at a UTF-8 character boundary.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// endTooLarge writes job id shrunk by EndTooLarge: first with its steps
// clipped, then, when that is still too large, without steps.
func endTooLarge(ctx context.Context, s Store, id string) (Job, error) {
	var err error
	for _, drop := range []bool{false, true} {
		var j Job
		j, err = update(ctx, s, id, func(j *Job) error { EndTooLarge(j, drop); return nil })
		if !errors.Is(err, ErrTooLarge) {
			return j, err
		}
	}
	return Job{}, err
}
