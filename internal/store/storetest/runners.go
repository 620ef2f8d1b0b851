package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

func errorsIsCanceled(err error) bool { return errors.Is(err, context.Canceled) }

func newRunner(id string) ci.Runner {
	zone := time.FixedZone("Y", -7*3600)
	hb := time.Date(2031, 5, 6, 7, 8, 9, 987654321, zone)
	return ci.Runner{
		ID: id, Address: id + ".internal:7443", Labels: []string{"linux", "arm64"},
		Capacity: 4, Running: 1, State: ci.RunnerActive, Failures: 2,
		FreeDiskBytes: 123 << 30, Version: "v1.2.3",
		DiskUsedPercent: 91.25, DiskPressure: "/work 91% full, above the 85% high watermark",
		LastHeartbeat: hb, ExpiresAt: time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC),
	}
}

func listRunners(t *testing.T, s ci.Store) []ci.Runner {
	t.Helper()
	rs, err := s.ListRunners(context.Background())
	if err != nil {
		t.Fatalf("ListRunners: %v", err)
	}
	return rs
}

func runnerIDs(rs []ci.Runner) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func putRunner(t *testing.T, s ci.Store, r ci.Runner) {
	t.Helper()
	if err := s.PutRunner(context.Background(), r); err != nil {
		t.Fatalf("PutRunner(%s): %v", r.ID, err)
	}
}

func testRunners(t *testing.T, s ci.Store) {
	ctx := context.Background()
	if rs := listRunners(t, s); len(rs) != 0 {
		t.Errorf("ListRunners of an empty store = %v", rs)
	}
	forever := newRunner("r-c")
	forever.ExpiresAt, forever.Labels = time.Time{}, nil // never expires
	for _, r := range []ci.Runner{newRunner("r-b"), newRunner("r-a"), forever} {
		putRunner(t, s, r)
	}
	got, err := s.GetRunner(ctx, "r-a")
	if err != nil {
		t.Fatalf("GetRunner: %v", err)
	}
	sameRunner(t, "GetRunner", got, newRunner("r-a"))
	rs := listRunners(t, s)
	sameIDs(t, "ListRunners", runnerIDs(rs), []string{"r-a", "r-b", "r-c"})
	if len(rs) == 3 {
		sameRunner(t, "listed r-c", rs[2], forever)
	}

	upd := newRunner("r-b")
	upd.Running, upd.State, upd.Labels, upd.Address = 0, ci.RunnerDraining, []string{"gpu"}, "10.0.0.9:7443"
	putRunner(t, s, upd)
	if got, err := s.GetRunner(ctx, "r-b"); err != nil {
		t.Fatalf("GetRunner after upsert: %v", err)
	} else {
		sameRunner(t, "GetRunner after upsert", got, upd)
	}

	for range 2 { // the second delete finds nothing, which is fine
		if err := s.DeleteRunner(ctx, "r-a"); err != nil {
			t.Fatalf("DeleteRunner: %v", err)
		}
	}
	if _, err := s.GetRunner(ctx, "r-a"); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("GetRunner after delete: err = %v, want ErrNotFound", err)
	}
	sameIDs(t, "ListRunners after delete", runnerIDs(listRunners(t, s)), []string{"r-b", "r-c"})
	if _, err := s.GetRunner(ctx, "no-such-runner"); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("GetRunner(unknown): err = %v, want ErrNotFound", err)
	}
	if err := s.PutRunner(ctx, ci.Runner{}); err == nil {
		t.Error("PutRunner with an empty ID succeeded")
	}
}

func testRunnerExpired(t *testing.T, s ci.Store) {
	ctx := context.Background()
	old := newRunner("r-old")
	old.ExpiresAt = time.Now().Add(-time.Minute)
	putRunner(t, s, old)
	putRunner(t, s, newRunner("r-live"))
	if _, err := s.GetRunner(ctx, "r-old"); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("GetRunner of an expired runner: err = %v, want ErrNotFound", err)
	}
	sameIDs(t, "ListRunners", runnerIDs(listRunners(t, s)), []string{"r-live"})
	old.ExpiresAt = time.Now().Add(time.Hour) // a heartbeat revives the record
	putRunner(t, s, old)
	if got, err := s.GetRunner(ctx, "r-old"); err != nil {
		t.Errorf("GetRunner after renewal: %v", err)
	} else {
		sameRunner(t, "renewed runner", got, old)
	}
}
