//go:build unix

package flock

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// TestModes: an exclusive lock excludes every other, shared locks only an
// exclusive one, and unlocking gives the file back.
func TestModes(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lock")
	ex := mustLock(t, path, Exclusive)
	for _, m := range []Mode{Shared, Exclusive} {
		if _, err := TryLock(path, m); !errors.Is(err, ErrLocked) {
			t.Errorf("TryLock(%v) beside an exclusive lock: %v, want ErrLocked", m, err)
		}
	}
	ex()
	ex() // twice changes nothing
	sh1, sh2 := mustLock(t, path, Shared), mustLock(t, path, Shared)
	if _, err := TryLock(path, Exclusive); !errors.Is(err, ErrLocked) {
		t.Errorf("TryLock(Exclusive) beside shared locks: %v, want ErrLocked", err)
	}
	sh1()
	sh2()
	mustLock(t, path, Exclusive)()
	if _, err := TryLock(filepath.Join(t.TempDir(), "missing", "lock"), Shared); err == nil || errors.Is(err, ErrLocked) {
		t.Errorf("TryLock in a missing directory: %v, want an error other than ErrLocked", err)
	}
}

// TestUnlockWhileStartingProcesses: a lock released while the process starts
// others is free at once. A process being started holds a copy of every
// descriptor until its exec, and a lock that only closing the descriptor
// released stayed with that copy (the SQLite store's
// TestExclusiveRefusesOthers failed in CI beside the crash test's child).
func TestUnlockWhileStartingProcesses(t *testing.T) {
	t.Parallel()
	ctx, stop := context.WithCancel(context.Background())
	var started atomic.Int64
	done := make(chan struct{})
	go func() { // start processes until the test ends
		defer close(done)
		for ctx.Err() == nil {
			_ = exec.Command("true").Run()
			started.Add(1)
		}
	}()
	defer func() { stop(); <-done }()
	path := filepath.Join(t.TempDir(), "lock")
	for i := 0; i < 2000 || started.Load() < 50; i++ {
		mustLock(t, path, Exclusive)()
	}
}

func mustLock(t *testing.T, path string, m Mode) Unlock {
	t.Helper()
	unlock, err := TryLock(path, m)
	if err != nil {
		t.Fatalf("TryLock(%s, %v): %v", path, m, err)
	}
	return unlock
}
