package ci

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestPlanResume(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	parent := Job{ID: "p1", Status: StatusFailure, FinishedAt: at(30), Steps: []Step{
		{Name: "deps", Status: StepSuccess, FinishedAt: at(5), Snapshot: "snapshots/p1/1/deps.tar.zst"},
		{Name: "build", Status: StepSuccess, DependsOn: []string{"deps"}, FinishedAt: at(20), Snapshot: "snapshots/p1/1/build.tar.zst"},
		{Name: "lint", Status: StepSuccess, DependsOn: []string{"deps"}, FinishedAt: at(25), Snapshot: "snapshots/p1/1/lint.tar.zst"},
		{Name: "test", Status: StepFailure, DependsOn: []string{"build"}, FinishedAt: at(28)},
		{Name: "report", Status: StepSkipped, DependsOn: []string{"test", "lint"}},
	}}
	now, keep := at(60), time.Hour
	r, err := PlanResume(parent, "test", now, keep)
	reason := "succeeded in job p1; the workspace it left was restored"
	want := &Resume{From: "test", Done: map[string]string{"deps": reason, "build": reason}, Snapshot: "snapshots/p1/1/build.tar.zst"}
	if err != nil || !reflect.DeepEqual(r, want) {
		t.Fatalf("from test: %+v, %v; want %+v", r, err, want)
	}
	if r, err := PlanResume(parent, "deps", now, keep); r != nil || err != nil {
		t.Errorf("from a step without dependencies: %+v, %v; want a whole re-run", r, err)
	}
	for from, want := range map[string]error{"report": ErrCannotResume, "nope": ErrCannotResume} {
		if _, err := PlanResume(parent, from, now, keep); !errors.Is(err, want) {
			t.Errorf("from %s: %v, want %v", from, err, want)
		}
	}
	if _, err := PlanResume(parent, "test", at(30).Add(2*time.Hour), keep); !errors.Is(err, ErrNoSnapshot) || !strings.Contains(err.Error(), "kept 1h0m0s") {
		t.Errorf("after the snapshots expired: %v", err)
	}
	noSnap := parent
	noSnap.Steps = append([]Step(nil), parent.Steps...)
	noSnap.Steps[1].Snapshot = ""
	if _, err := PlanResume(noSnap, "test", now, keep); !errors.Is(err, ErrNoSnapshot) || !strings.Contains(err.Error(), "after step build") {
		t.Errorf("without a snapshot: %v", err)
	}
	// A dependency that failed with allow_failure lets its dependents run,
	// so a re-run may start after it too.
	allowed := parent
	allowed.Steps = append([]Step(nil), parent.Steps...)
	allowed.Steps[2].Status, allowed.Steps[2].AllowedFailure, allowed.Steps[2].FinishedAt = StepFailure, true, at(29)
	allowed.Steps[3].Status = StepSuccess
	if r, err := PlanResume(allowed, "report", now, keep); err != nil || r.Snapshot != "snapshots/p1/1/lint.tar.zst" ||
		r.Done["lint"] != "failed (allowed) in job p1; the workspace it left was restored" {
		t.Errorf("after an allowed failure: %+v, %v", r, err)
	}
	// The re-run itself failed at test again: re-running it from test once
	// more starts from the same snapshot, its done steps standing in.
	child := Job{ID: "c1", Status: StatusFailure, FinishedAt: at(50), Resume: want, Steps: []Step{
		{Name: "deps", Status: StepSkipped}, {Name: "build", Status: StepSkipped, DependsOn: []string{"deps"}},
		{Name: "test", Status: StepFailure, DependsOn: []string{"build"}},
	}}
	if r, err := PlanResume(child, "test", now, keep); err != nil || r.Snapshot != want.Snapshot || len(r.Done) != 2 {
		t.Errorf("re-run of a re-run: %+v, %v", r, err)
	}
}
