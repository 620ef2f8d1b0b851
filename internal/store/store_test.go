package store

import (
	"errors"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

func TestLimit(t *testing.T) {
	for in, want := range map[int]int{-1: 50, 0: 50, 1: 1, 50: 50, 199: 199, 200: 200, 201: 200, 1 << 30: 200} {
		if got := Limit(in); got != want {
			t.Errorf("Limit(%d) = %d, want %d", in, got, want)
		}
	}
}

// TestTimeKeyOrder: the byte order of keys is the time order, including the
// cases RFC3339Nano gets wrong (trimmed zeros) and times given in other zones.
func TestTimeKeyOrder(t *testing.T) {
	base := time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)
	times := []time.Time{
		base.Add(100 * time.Millisecond), base.Add(120 * time.Millisecond), base, base.Add(1),
		base.Add(time.Second), base.Add(-time.Nanosecond), base.In(time.FixedZone("E", 14*3600)).Add(2),
		base.In(time.FixedZone("W", -12*3600)).Add(3), time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	keys := make([]string, len(times))
	for i, tm := range times {
		keys[i] = TimeKey(tm)
		if len(keys[i]) != len(timeKeyLayout) {
			t.Errorf("TimeKey(%v) = %q: not fixed width", tm, keys[i])
		}
	}
	byTime := slices.Clone(times)
	sort.Slice(byTime, func(i, j int) bool { return byTime[i].Before(byTime[j]) })
	sort.Strings(keys)
	for i, tm := range byTime {
		if keys[i] != TimeKey(tm) {
			t.Errorf("position %d: key %s, time %v", i, keys[i], tm)
		}
	}
	if got := TimeKey(base.Add(120 * time.Millisecond)); got != "2031-03-04T05:06:07.120000000Z" {
		t.Errorf("TimeKey = %q", got)
	}
}

func TestCursorRoundTrip(t *testing.T) {
	created := time.Date(2031, 3, 4, 5, 6, 7, 891, time.FixedZone("X", 3600))
	for _, id := range []string{"0123456789abcdef0123", "with#hash", "ü"} {
		c := EncodeCursor(SortKey(created, id))
		ts, gotID, err := DecodeCursor(c)
		if err != nil {
			t.Fatalf("DecodeCursor(%q): %v", c, err)
		}
		if ts != "2031-03-04T04:06:07.000000891Z" || gotID != id {
			t.Errorf("DecodeCursor = %q, %q; want the time key and %q", ts, gotID, id)
		}
	}
}

func TestCursorBad(t *testing.T) {
	for _, c := range []string{
		"", "***", EncodeCursor("no-hash"), EncodeCursor("2031-03-04T04:06:07.000000891Z#"),
		EncodeCursor("yesterday#job-1"), EncodeCursor("2031-03-04T04:06:07.1Z#job-1"),
		EncodeCursor("2031-03-04T04:06:07.000000891+01:00#job-1"),
	} {
		if _, _, err := DecodeCursor(c); !errors.Is(err, ErrBadCursor) {
			t.Errorf("DecodeCursor(%q): err = %v, want ErrBadCursor", c, err)
		}
	}
}

func TestPrepareCreate(t *testing.T) {
	now := time.Date(2031, 1, 1, 0, 0, 0, 5, time.FixedZone("X", 7200))
	steps := []ci.Step{{Name: "a", StartedAt: now}}
	in := ci.Job{ID: "j", Status: ci.StatusQueued, Version: 7, Steps: steps, Labels: []string{"l"}}
	got, err := PrepareCreate(in, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 1 || !got.CreatedAt.Equal(now) || !got.UpdatedAt.Equal(now) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("PrepareCreate = %+v", got)
	}
	if got.Steps[0].StartedAt.Location() != time.UTC {
		t.Error("step time not in UTC")
	}
	got.Steps[0].Name, got.Labels[0] = "changed", "changed"
	if steps[0].Name != "a" || in.Labels[0] != "l" {
		t.Error("PrepareCreate shares slices with its input")
	}
	kept := in
	kept.CreatedAt = now.Add(-time.Hour)
	if got, _ := PrepareCreate(kept, now); !got.CreatedAt.Equal(kept.CreatedAt) {
		t.Errorf("CreatedAt %v replaced by %v", kept.CreatedAt, got.CreatedAt)
	}
	for _, bad := range []ci.Job{{Status: ci.StatusQueued}, {ID: "j"}, {ID: "j", Status: "nope"}} {
		if _, err := PrepareCreate(bad, now); err == nil {
			t.Errorf("PrepareCreate(%+v) accepted", bad)
		}
	}
}

func TestPrepareUpdate(t *testing.T) {
	now := time.Date(2031, 1, 1, 0, 0, 0, 5, time.UTC)
	got, err := PrepareUpdate(ci.Job{ID: "j", Status: ci.StatusRunning, Version: 4}, now)
	if err != nil || got.Version != 5 || !got.UpdatedAt.Equal(now) {
		t.Errorf("PrepareUpdate = %+v, %v", got, err)
	}
	if _, err := PrepareUpdate(ci.Job{ID: "j", Status: "nope"}, now); err == nil {
		t.Error("PrepareUpdate accepted an invalid status")
	}
}

func TestRunnerExpired(t *testing.T) {
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	for exp, want := range map[time.Time]bool{
		{}: false, now.Add(time.Nanosecond): false, now: true, now.Add(-time.Hour): true,
	} {
		if got := RunnerExpired(ci.Runner{ExpiresAt: exp}, now); got != want {
			t.Errorf("RunnerExpired(ExpiresAt %v) = %v, want %v", exp, got, want)
		}
	}
	if _, err := PrepareRunner(ci.Runner{}); err == nil {
		t.Error("PrepareRunner accepted an empty ID")
	}
}

func TestUnpublished(t *testing.T) {
	for _, c := range []struct {
		st   ci.Status
		pub  bool
		want bool
	}{{ci.StatusQueued, false, true}, {ci.StatusQueued, true, false}, {ci.StatusRunning, false, false}} {
		if got := Unpublished(ci.Job{Status: c.st, Published: c.pub}); got != c.want {
			t.Errorf("Unpublished(%s, published=%v) = %v", c.st, c.pub, got)
		}
	}
}
