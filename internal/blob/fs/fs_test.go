package fs

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/blob"
	"github.com/narwhal-ci/narwhal/internal/blob/blobtest"
)

func TestContract(t *testing.T) {
	t.Parallel()
	blobtest.Run(t, func(t *testing.T) blob.Store { return New(t.TempDir()) })
}

// TestSweepRemovesWhatACrashedPutLeft: a temporary file that no Put will
// rename (its process died) is removed by the sweep, uncounted.
func TestSweepRemovesWhatACrashedPutLeft(t *testing.T) {
	dir := t.TempDir()
	s := New(dir)
	blobtest.Put(t, s, "snapshots/j/1/a", "x")
	stale := filepath.Join(dir, "snapshots", "j", "1", tmpPrefix+"123")
	if err := os.WriteFile(stale, []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	n, err := s.Sweep(context.Background(), "snapshots", time.Now().Add(time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the crashed Put's file is still there: %v", err)
	}
}

// TestListBound: a List past its bound returns the first objects and
// ErrTruncated.
func TestListBound(t *testing.T) {
	s := New(t.TempDir())
	s.listLimit = 2
	blobtest.Truncated(t, s)
}
