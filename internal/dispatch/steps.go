package dispatch

import (
	"context"
	"errors"
	"fmt"
	"slices"

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
		if s.DependsOn == nil {
			s.DependsOn = old.DependsOn // step reports leave the plan's out
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

// setPlan lays j.Steps out as plan says, in its order: each step keeps the
// state already reported and gains its dependencies, the others are added
// pending; steps the plan lacks stay at the end. It reports whether j
// changed (a replayed plan changes nothing).
func setPlan(j *ci.Job, plan []ci.Step) bool {
	if len(plan) == 0 {
		return false
	}
	steps := make([]ci.Step, 0, max(len(plan), len(j.Steps)))
	known := make(map[string]bool, len(plan))
	for _, p := range plan {
		known[p.Name] = true
		if i := slices.IndexFunc(j.Steps, func(s ci.Step) bool { return s.Name == p.Name }); i >= 0 {
			s := j.Steps[i]
			s.DependsOn = p.DependsOn
			p = s
		}
		steps = append(steps, p)
	}
	for _, s := range j.Steps {
		if !known[s.Name] {
			steps = append(steps, s)
		}
	}
	changed := !slices.EqualFunc(steps, j.Steps, func(a, b ci.Step) bool {
		return stepEqual(a, b) && slices.Equal(a.DependsOn, b.DependsOn)
	})
	j.Steps = steps
	return changed
}

// endPending ends the steps of a final job that never started: cancelled
// with the job, skipped otherwise (it failed or erred before them).
func endPending(j *ci.Job) {
	for i, s := range j.Steps {
		if s.Status != ci.StepPending && s.Status != "" {
			continue
		}
		j.Steps[i].Status = ci.StepSkipped
		if j.Status == ci.StatusCancelled {
			j.Steps[i].Status = ci.StepCancelled
		}
	}
}
