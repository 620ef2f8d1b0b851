//go:build unix

package sqlite

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrInUse is the error of opening a file another Store holds in a way that
// excludes this one: one of them is exclusive (see Options).
var ErrInUse = errors.New("the database file is in use by another store, in this or another process")

// lockFile takes a flock on path + "-lock": exclusive or shared as asked,
// failing at once with ErrInUse when another Store's lock excludes it. The
// kernel drops the lock when the process dies, so a crash leaves nothing to
// clean up. Memory databases take none.
func lockFile(path string, exclusive bool) (unlock func(), err error) {
	if path == Memory || path == "" {
		return func() {}, nil
	}
	f, err := os.OpenFile(path+"-lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrInUse
		}
		return nil, fmt.Errorf("lock file: %w", err)
	}
	return func() { f.Close() }, nil
}
