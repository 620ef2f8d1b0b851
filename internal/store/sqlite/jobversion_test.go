package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// JobVersion tells the stored version of a job, in step with every write,
// and ci.ErrNotFound for an unknown ID.
func TestJobVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openT(t, filepath.Join(t.TempDir(), "narwhal.db"))
	j, err := s.CreateJob(ctx, newJob("j"))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s.JobVersion(ctx, "j"); err != nil || v != 1 {
		t.Fatalf("after create: version %d, %v; want 1", v, err)
	}
	if j, err = s.UpdateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	if v, err := s.JobVersion(ctx, "j"); err != nil || v != j.Version || v != 2 {
		t.Fatalf("after update: version %d, %v; want %d", v, err, j.Version)
	}
	if _, err := s.JobVersion(ctx, "nope"); !errors.Is(err, ci.ErrNotFound) {
		t.Fatalf("unknown job: %v, want ErrNotFound", err)
	}
}
