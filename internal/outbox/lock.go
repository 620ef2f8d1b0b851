package outbox

import (
	"path/filepath"

	"github.com/narwhal-ci/narwhal/internal/flock"
)

// lockDir takes an exclusive lock on dir/lock, so that two processes never
// deliver (and number) the same messages; a second Open fails with
// flock.ErrLocked. Where flock is missing, the caller must make sure that one
// process at a time opens the directory.
func lockDir(dir string) (unlock func(), err error) {
	return flock.TryLock(filepath.Join(dir, "lock"), flock.Exclusive)
}
