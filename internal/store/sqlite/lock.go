package sqlite

import (
	"errors"

	"github.com/narwhal-ci/narwhal/internal/flock"
)

// ErrInUse is the error of opening a file another Store holds in a way that
// excludes this one: one of them is exclusive (see Options). Where flock is
// missing it is never returned, and the caller must make sure that an
// exclusive Store is the file's only one.
var ErrInUse = errors.New("the database file is in use by another store, in this or another process")

// lockFile locks path + "-lock", exclusively or shared as asked, failing at
// once with ErrInUse when another Store's lock excludes it. Memory databases
// take none.
func lockFile(path string, exclusive bool) (unlock func(), err error) {
	if path == Memory || path == "" {
		return func() {}, nil
	}
	mode := flock.Shared
	if exclusive {
		mode = flock.Exclusive
	}
	unlock, err = flock.TryLock(path+"-lock", mode)
	if errors.Is(err, flock.ErrLocked) {
		return nil, ErrInUse
	}
	return unlock, err
}
