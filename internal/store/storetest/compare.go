package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// sameJob fails unless got equals want field by field, times compared to the
// nanosecond; it also checks that got's times are in UTC.
func sameJob(t *testing.T, what string, got, want ci.Job) {
	t.Helper()
	for _, tm := range jobTimes(got) {
		if tm.Location() != time.UTC {
			t.Errorf("%s: time %v is not in UTC", what, tm)
		}
	}
	if g, w := canonJob(got), canonJob(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, g, w)
	}
}

func sameRunner(t *testing.T, what string, got, want ci.Runner) {
	t.Helper()
	for _, tm := range []time.Time{got.LastHeartbeat, got.ExpiresAt} {
		if tm.Location() != time.UTC {
			t.Errorf("%s: time %v is not in UTC", what, tm)
		}
	}
	if g, w := canonRunner(got), canonRunner(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, g, w)
	}
}

func jobTimes(j ci.Job) []time.Time {
	out := []time.Time{j.CreatedAt, j.UpdatedAt, j.StartedAt, j.FinishedAt}
	for _, s := range j.Steps {
		out = append(out, s.StartedAt, s.FinishedAt)
	}
	return out
}

// canonJob maps the representations the contract does not tell apart to one:
// empty slices to nil, times to UTC without a monotonic reading.
func canonJob(j ci.Job) ci.Job {
	j.Deliveries = nilIfEmpty(j.Deliveries)
	j.Labels = nilIfEmpty(j.Labels)
	if len(j.Steps) == 0 {
		j.Steps = nil
	} else {
		steps := make([]ci.Step, len(j.Steps))
		for i, s := range j.Steps {
			s.StartedAt, s.FinishedAt = s.StartedAt.UTC(), s.FinishedAt.UTC()
			steps[i] = s
		}
		j.Steps = steps
	}
	j.CreatedAt, j.UpdatedAt = j.CreatedAt.UTC(), j.UpdatedAt.UTC()
	j.StartedAt, j.FinishedAt = j.StartedAt.UTC(), j.FinishedAt.UTC()
	return j
}

func canonRunner(r ci.Runner) ci.Runner {
	r.Labels = nilIfEmpty(r.Labels)
	r.LastHeartbeat, r.ExpiresAt = r.LastHeartbeat.UTC(), r.ExpiresAt.UTC()
	return r
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
