package store

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// PrepareCreate returns the job CreateJob writes: j checked, every time in
// UTC, Version 1, and CreatedAt/UpdatedAt set to now when zero.
func PrepareCreate(j ci.Job, now time.Time) (ci.Job, error) {
	j = NormalizeJob(j)
	now = now.UTC()
	if j.CreatedAt.IsZero() {
		j.CreatedAt = now
	}
	if j.UpdatedAt.IsZero() {
		j.UpdatedAt = now
	}
	j.Version = 1
	if err := checkJob(j); err != nil {
		return ci.Job{}, fmt.Errorf("create job %q: %w", j.ID, err)
	}
	return j, nil
}

// PrepareUpdate returns the job UpdateJob writes in place of version
// j.Version: j checked, every time in UTC, Version+1 and UpdatedAt now.
func PrepareUpdate(j ci.Job, now time.Time) (ci.Job, error) {
	j = NormalizeJob(j)
	j.Version++
	j.UpdatedAt = now.UTC()
	if err := checkJob(j); err != nil {
		return ci.Job{}, fmt.Errorf("update job %q: %w", j.ID, err)
	}
	return j, nil
}

// PrepareRunner returns the runner PutRunner writes: r checked, times in UTC.
func PrepareRunner(r ci.Runner) (ci.Runner, error) {
	if r.ID == "" {
		return ci.Runner{}, errors.New("put runner: empty ID")
	}
	r.Labels = slices.Clone(r.Labels)
	r.Jobs = slices.Clone(r.Jobs)
	r.RPCFailedAt = r.RPCFailedAt.UTC()
	r.LastHeartbeat = r.LastHeartbeat.UTC()
	r.ExpiresAt = r.ExpiresAt.UTC()
	return r, nil
}

// NormalizeJob returns a copy of j that shares no slices with it and has
// every time in UTC without a monotonic reading, as the stores return them.
func NormalizeJob(j ci.Job) ci.Job {
	j.Deliveries = slices.Clone(j.Deliveries)
	j.Labels = slices.Clone(j.Labels)
	j.Steps = slices.Clone(j.Steps)
	for i := range j.Steps {
		j.Steps[i].StartedAt = j.Steps[i].StartedAt.UTC()
		j.Steps[i].FinishedAt = j.Steps[i].FinishedAt.UTC()
	}
	j.CreatedAt = j.CreatedAt.UTC()
	j.UpdatedAt = j.UpdatedAt.UTC()
	j.StartedAt = j.StartedAt.UTC()
	j.FinishedAt = j.FinishedAt.UTC()
	return j
}

func checkJob(j ci.Job) error {
	switch {
	case j.ID == "":
		return errors.New("empty ID")
	case !j.Status.Valid():
		return fmt.Errorf("invalid status %q", j.Status)
	case j.CreatedAt.Year() < 1 || j.CreatedAt.Year() > 9999:
		return fmt.Errorf("created_at %v out of range", j.CreatedAt)
	}
	return nil
}
