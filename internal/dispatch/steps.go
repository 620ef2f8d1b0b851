package dispatch

import (
	"context"
	"errors"
	"fmt"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// stepReport records a step's state on its job (Job.Steps, by name).
func (d *Dispatcher) stepReport(ctx context.Context, ev ci.RunnerEvent) error {
	if ev.Step == nil || ev.Step.Name == "" {
		return fmt.Errorf("step report of runner %s: no step", ev.RunnerID)
	}
	_, _, err := d.update(ctx, ev.JobID, func(j *ci.Job) error {
		if j.Attempt != ev.Attempt || j.RunnerID != ev.RunnerID {
			return errGone
		}
		return setStep(j, *ev.Step)
	})
	if errors.Is(err, ci.ErrNotFound) {
		d.log.Warn("step report about an unknown job dropped", "job_id", ev.JobID, "runner_id", ev.RunnerID)
		return nil
	}
	return err
}

// setStep puts s into j.Steps, replacing the step of the same name unless
// that one is further along (a replayed report) or equal.
func setStep(j *ci.Job, s ci.Step) error {
	for i, old := range j.Steps {
		if old.Name != s.Name {
			continue
		}
		if stepRank(s.Status) < stepRank(old.Status) || stepEqual(old, s) {
			return errUnchanged
		}
		j.Steps[i] = s
		return nil
	}
	j.Steps = append(j.Steps, s)
	return nil
}

// stepRank orders step states: pending, running, then the final ones.
func stepRank(status ci.StepStatus) int {
	switch status {
	case ci.StepPending, "":
		return 0
	case ci.StepRunning:
		return 1
	}
	return 2
}

func stepEqual(a, b ci.Step) bool {
	return a.Name == b.Name && a.Status == b.Status && a.ExitCode == b.ExitCode &&
		a.StartedAt.Equal(b.StartedAt) && a.FinishedAt.Equal(b.FinishedAt)
}
