package ci

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Resume is what a job re-running its parent from a step needs: the step it
// re-runs from, the steps before it that succeeded in the parent and are not
// run again, with the reason the log gives, and the snapshot of the
// parent's workspace to start from.
type Resume struct {
	From     string            `json:"from"`
	Done     map[string]string `json:"done"`
	Snapshot string            `json:"snapshot"`
}

// Errors of PlanResume: ErrNoSnapshot says a re-run from the step cannot
// start where the parent left off (a whole re-run can); ErrCannotResume that
// the step is not one to re-run from.
var (
	ErrNoSnapshot   = errors.New("no workspace snapshot to start from")
	ErrCannotResume = errors.New("cannot re-run from that step")
)

// PlanResume plans the re-run of parent from step from at time now, for
// snapshots kept for keep after the parent finished. The steps before from
// are its dependencies, direct or not; each must have succeeded in parent,
// or failed with allow_failure (which lets its dependents run), or been done
// already, when parent was itself such a re-run. The
// workspace to start from is the snapshot saved after the last of them to
// finish: the shared workspace then holds what all of them wrote.
//
// A step without dependencies needs no snapshot: the plan is nil, a whole
// re-run. An unknown step or a dependency that did not succeed is an error
// matching ErrCannotResume; a missing or expired snapshot one matching
// ErrNoSnapshot.
func PlanResume(parent Job, from string, now time.Time, keep time.Duration) (*Resume, error) {
	if !slices.ContainsFunc(parent.Steps, func(s Step) bool { return s.Name == from }) {
		return nil, fmt.Errorf("%w: job %s has no step %q", ErrCannotResume, parent.ID, from)
	}
	before := ancestors(parent.Steps, from)
	if len(before) == 0 {
		return nil, nil
	}
	done := make(map[string]string, len(before))
	var last *Step
	for _, s := range before {
		switch {
		case parent.Resume != nil && parent.Resume.Done[s.Name] != "" && s.Status == StepSkipped:
		case s.Status != StepSuccess && !s.AllowedFailure:
			return nil, fmt.Errorf("%w: step %s, which %s depends on, did not succeed in job %s (%s)",
				ErrCannotResume, s.Name, from, parent.ID, s.Status)
		case last == nil || s.FinishedAt.After(last.FinishedAt):
			last = &s
		}
		done[s.Name] = fmt.Sprintf("%s in job %s; the workspace it left was restored", outcome(s), parent.ID)
	}
	snap, err := startingPoint(parent, last, now, keep)
	if err != nil {
		return nil, err
	}
	return &Resume{From: from, Done: done, Snapshot: snap}, nil
}

// outcome says how a done step ended, for its skip reason.
func outcome(s Step) string {
	if s.AllowedFailure {
		return "failed (allowed)"
	}
	return "succeeded"
}

// startingPoint is the snapshot after last, or, when every step before was
// done already in parent, the one parent itself started from.
func startingPoint(parent Job, last *Step, now time.Time, keep time.Duration) (string, error) {
	if !parent.FinishedAt.IsZero() && now.Sub(parent.FinishedAt) > keep {
		return "", fmt.Errorf("%w: job %s finished %s ago and snapshots are kept %s", ErrNoSnapshot, parent.ID,
			now.Sub(parent.FinishedAt).Round(time.Minute), keep)
	}
	switch {
	case last == nil:
		return parent.Resume.Snapshot, nil
	case last.Snapshot != "":
		return last.Snapshot, nil
	case parent.Fork:
		return "", fmt.Errorf("%w: pull requests from forks keep no workspace", ErrNoSnapshot)
	}
	return "", fmt.Errorf("%w: none was kept after step %s of job %s (too large, or the runner keeps none)", ErrNoSnapshot, last.Name, parent.ID)
}

// ancestors are the steps from depends on, directly or not, in steps' order.
func ancestors(steps []Step, from string) []Step {
	deps := make(map[string][]string, len(steps))
	for _, s := range steps {
		deps[s.Name] = s.DependsOn
	}
	seen := map[string]bool{}
	var walk func(string)
	walk = func(name string) {
		for _, d := range deps[name] {
			if !seen[d] {
				seen[d] = true
				walk(d)
			}
		}
	}
	walk(from)
	var out []Step
	for _, s := range steps {
		if seen[s.Name] {
			out = append(out, s)
		}
	}
	return out
}
