package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// MarkPublished leaves a job exactly as an UpdateJob that set Published
// would (document, version, UpdatedAt, the unpublished listing), skips jobs
// already published, on another attempt or unknown, and is idempotent.
// An exclusive store answers from its cache what the statement wrote.
func TestMarkPublished(t *testing.T) {
	t.Parallel()
	for _, opts := range []Options{{}, {Exclusive: true}} {
		t.Run(fmt.Sprintf("exclusive=%t", opts.Exclusive), func(t *testing.T) {
			t.Parallel()
			testMarkPublished(t, openWith(t, filepath.Join(t.TempDir(), "narwhal.db"), opts))
		})
	}
}

func testMarkPublished(t *testing.T, s *Store) {
	ctx := context.Background()
	now := time.Date(2026, 12, 2, 6, 0, 0, 123456789, time.UTC)
	s.now = func() time.Time { return now }
	create := func(id string, attempt int, published bool) ci.Job {
		j := newJob(id)
		j.Attempt, j.Published, j.Message = attempt, published, "a <b> & \"c\" \u2603"
		j.Deliveries, j.Labels = []string{"d-1"}, []string{"linux"}
		j.CreatedAt = now.Add(-time.Hour)
		created, err := s.CreateJob(ctx, j)
		if err != nil {
			t.Fatal(err)
		}
		return created
	}
	fresh, requeued, done := create("fresh", 1, false), create("requeued", 2, false), create("done", 1, true)

	marks := []ci.JobMessage{{JobID: "fresh", Attempt: 1}, {JobID: "requeued", Attempt: 1},
		{JobID: "done", Attempt: 1}, {JobID: "unknown", Attempt: 1}}
	if err := s.MarkPublished(ctx, marks); err != nil {
		t.Fatalf("MarkPublished: %v", err)
	}
	want := fresh
	want.Published, want.Version, want.UpdatedAt = true, fresh.Version+1, now
	if got := storedJob(t, s, "fresh"); !reflect.DeepEqual(got, want) {
		t.Fatalf("marked job\n got %+v\nwant %+v", got, want)
	}
	if v, err := s.JobVersion(ctx, "fresh"); err != nil || v != want.Version {
		t.Fatalf("version column %d (%v), want %d", v, err, want.Version)
	}
	for _, j := range []ci.Job{requeued, done} {
		if got := storedJob(t, s, j.ID); !reflect.DeepEqual(got, j) {
			t.Fatalf("job %s changed:\n got %+v\nwant %+v", j.ID, got, j)
		}
	}
	unpub, err := s.ListUnpublished(ctx, now, 10)
	if err != nil || len(unpub) != 1 || unpub[0].ID != "requeued" {
		t.Fatalf("unpublished %v (%v), want only requeued", unpub, err)
	}

	if err := s.MarkPublished(ctx, marks); err != nil {
		t.Fatalf("MarkPublished again: %v", err)
	}
	if got := storedJob(t, s, "fresh"); got.Version != want.Version {
		t.Fatalf("second mark moved the version to %d", got.Version)
	}
	// The marked job is an ordinary job to the next writer.
	next := want
	next.Status = ci.StatusAssigned
	if _, err := s.UpdateJob(ctx, next); err != nil {
		t.Fatalf("update after mark: %v", err)
	}
	if _, ok := s.cached("fresh"); ok != (s.jobs != nil) {
		t.Errorf("fresh cached: %t; want %t", ok, s.jobs != nil)
	}
}

// MarkPublished of nothing writes nothing; on a closed store it fails.
func TestMarkPublishedEdges(t *testing.T) {
	t.Parallel()
	s := openT(t, Memory)
	if err := s.MarkPublished(context.Background(), nil); err != nil {
		t.Fatalf("no marks: %v", err)
	}
	s.Close()
	err := s.MarkPublished(context.Background(), []ci.JobMessage{{JobID: "j", Attempt: 1}})
	if !errors.Is(err, ci.ErrClosed) {
		t.Fatalf("closed store: %v, want ErrClosed", err)
	}
}

func storedJob(t *testing.T, s *Store, id string) ci.Job {
	t.Helper()
	j, err := s.GetJob(context.Background(), id)
	if err != nil {
		t.Fatalf("GetJob(%s): %v", id, err)
	}
	return j
}

// BenchmarkMarkPublished compares the two ways of writing the Published
// mark of a job just created: MarkPublished, and the read-modify-write the
// intake falls back to (ci.UpdateFrom with the created job). Each op is one
// job's mark, written alone (one transaction).
func BenchmarkMarkPublished(b *testing.B) {
	for _, way := range []string{"MarkPublished", "UpdateFrom"} {
		b.Run(way, func(b *testing.B) {
			ctx := context.Background()
			s, err := Open(ctx, filepath.Join(b.TempDir(), "narwhal.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			jobs := make([]ci.Job, b.N)
			for i := range jobs {
				j := newJob(fmt.Sprintf("job-%08d", i))
				j.Message = strings.Repeat("a commit message ", 20)
				if jobs[i], err = s.CreateJob(ctx, j); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := markWay(ctx, s, way, jobs[i]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func markWay(ctx context.Context, s *Store, way string, j ci.Job) error {
	if way == "MarkPublished" {
		return s.MarkPublished(ctx, []ci.JobMessage{{JobID: j.ID, Attempt: j.Attempt}})
	}
	_, err := ci.UpdateFrom(ctx, s, j, func(j *ci.Job) error { j.Published = true; return nil })
	return err
}
