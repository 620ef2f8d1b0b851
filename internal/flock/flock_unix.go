//go:build unix

package flock

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
)

// Lock takes a lock of mode m on path (created if missing), waiting while
// another holder's lock excludes it.
func Lock(path string, m Mode) (Unlock, error) { return lock(path, m, 0) }

// TryLock is Lock without the wait: it fails with ErrLocked at once when
// another holder's lock excludes the one asked for.
func TryLock(path string, m Mode) (Unlock, error) { return lock(path, m, syscall.LOCK_NB) }

func lock(path string, m Mode, flags int) (Unlock, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	how := syscall.LOCK_SH
	if m == Exclusive {
		how = syscall.LOCK_EX
	}
	if err := syscall.Flock(int(f.Fd()), how|flags); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock %s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return sync.OnceFunc(func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN) // before a started process's copy goes
		f.Close()
	}), nil
}
