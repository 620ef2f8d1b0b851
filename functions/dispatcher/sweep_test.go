package main

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestArtifactSweepHourly: the monitor runs every minute, the artifact sweep
// at most hourly by the monitor's clock; a failed sweep is retried at the
// next run.
func TestArtifactSweepHourly(t *testing.T) {
	t.Parallel()
	var swept []time.Time
	fail := false
	h := &hourly{sweep: func(_ context.Context, now time.Time) (int, error) {
		swept = append(swept, now)
		if fail {
			return 0, errors.New("bucket unreachable")
		}
		return 2, nil
	}}
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	for i, c := range []struct {
		at     time.Duration
		fail   bool
		want   int
		sweeps int
		err    bool
	}{
		{0, false, 2, 1, false},                       // a cold start sweeps at once
		{time.Minute, false, 0, 1, false},             // then not each minute
		{59 * time.Minute, false, 0, 1, false},        //
		{time.Hour, true, 0, 2, true},                 // an hour on it does, and fails
		{time.Hour + time.Minute, false, 2, 3, false}, // so the next run tries again
		{time.Hour + 2*time.Minute, false, 0, 3, false},
	} {
		fail = c.fail
		n, err := h.run(t.Context(), t0.Add(c.at))
		if n != c.want || len(swept) != c.sweeps || (err != nil) != c.err {
			t.Fatalf("run %d at +%v: %d, %v after %d sweeps; want %d, error %v, %d sweeps", i, c.at, n, err, len(swept), c.want, c.err, c.sweeps)
		}
	}
}
