package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

func testListUnpublished(t *testing.T, s ci.Store) {
	ctx := context.Background()
	before := at(100)
	published := newJob("pub", "a/x", "main", ci.StatusQueued, at(0))
	published.Published = true
	createAll(t, s, []ci.Job{
		newJob("u1", "a/x", "main", ci.StatusQueued, at(3)),
		newJob("u2", "a/x", "main", ci.StatusQueued, at(1)),
		newJob("u3", "a/x", "dev", ci.StatusQueued, at(2)),
		newJob("u4", "b/y", "main", ci.StatusQueued, at(4)),
		published,
		newJob("running", "a/x", "main", ci.StatusRunning, at(0)),
		newJob("late", "a/x", "main", ci.StatusQueued, before.Add(time.Second)),
		newJob("edge", "a/x", "main", ci.StatusQueued, before), // "before" is strict
	})
	check := func(what string, limit int, want ...string) {
		t.Helper()
		got, err := s.ListUnpublished(ctx, before, limit)
		if err != nil {
			t.Fatalf("ListUnpublished: %v", err)
		}
		sameIDs(t, what, ids(got), want)
		for _, j := range got {
			sameJob(t, what+": job "+j.ID, j, get(t, s, j.ID))
		}
	}
	check("unpublished, oldest first", 0, "u2", "u3", "u1", "u4")
	check("unpublished, limit 2", 2, "u2", "u3")

	if _, err := ci.Update(ctx, s, "u3", func(j *ci.Job) error { j.Published = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := ci.Update(ctx, s, "u1", func(j *ci.Job) error { return j.Move(ci.StatusAssigned) }); err != nil {
		t.Fatal(err)
	}
	check("after publishing u3 and assigning u1", 10, "u2", "u4")
	if _, err := ci.Update(ctx, s, "u1", func(j *ci.Job) error { return j.Move(ci.StatusQueued) }); err != nil {
		t.Fatal(err)
	}
	check("after requeueing u1", 10, "u2", "u1", "u4")
	all, err := s.ListUnpublished(ctx, at(200), 0)
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "unpublished before a later time", ids(all), []string{"u2", "u1", "u4", "edge", "late"})
}

func testCancelled(t *testing.T, s ci.Store) {
	create(t, s, newJob("job-1", "a/x", "main", ci.StatusQueued, at(1)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	j := newJob("job-2", "a/x", "main", ci.StatusQueued, at(2))
	calls := map[string]func() error{
		"CreateJob":       func() error { _, err := s.CreateJob(ctx, j); return err },
		"GetJob":          func() error { _, err := s.GetJob(ctx, "job-1"); return err },
		"UpdateJob":       func() error { _, err := s.UpdateJob(ctx, get(t, s, "job-1")); return err },
		"ListJobs":        func() error { _, err := s.ListJobs(ctx, ci.JobFilter{}); return err },
		"ListUnpublished": func() error { _, err := s.ListUnpublished(ctx, at(10), 0); return err },
		"PutRunner":       func() error { return s.PutRunner(ctx, ci.Runner{ID: "r"}) },
		"GetRunner":       func() error { _, err := s.GetRunner(ctx, "r"); return err },
		"ListRunners":     func() error { _, err := s.ListRunners(ctx); return err },
		"DeleteRunner":    func() error { return s.DeleteRunner(ctx, "r") },
	}
	for name, call := range calls {
		if err := call(); !errorsIsCanceled(err) {
			t.Errorf("%s with a cancelled context: err = %v, want context.Canceled", name, err)
		}
	}
	if _, err := s.GetJob(context.Background(), "job-2"); err == nil {
		t.Error("CreateJob with a cancelled context created the job")
	}
}
