package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/artifact"
	blobfs "github.com/narwhal-ci/narwhal/internal/blob/fs"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// TestLocalArtifactSweep: a runnerd that keeps artifacts on its disk
// deletes the expired ones at start and keeps the others, and stops
// sweeping when released.
func TestLocalArtifactSweep(t *testing.T) {
	t.Parallel()
	store := blobfs.New(t.TempDir())
	old := artifact.Key("job-old", 1, 0, time.Now().AddDate(0, 0, -2))
	kept := artifact.Key("job-new", 1, 0, time.Now().AddDate(0, 0, 7))
	put(t, store, old, "old")
	put(t, store, kept, "new")
	var logged testenv.Buffer
	d := &daemon{log: slog.New(slog.NewTextHandler(&logged, nil)), localArtifacts: store}
	d.sweepLocalArtifacts()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logged.String(), "expired artifacts deleted") {
		if time.Now().After(deadline) {
			t.Fatalf("no sweep within 10s: %s", logged.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	d.release()
	if _, err := store.Open(context.Background(), old); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("expired artifact: %v, want it deleted", err)
	}
	put(t, store, kept, "new")
	if !strings.Contains(logged.String(), "count=1") {
		t.Errorf("log: %s", logged.String())
	}
}
