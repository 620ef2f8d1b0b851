//go:build !unix

package flock

// Lock takes no lock where flock is missing: there, callers must make sure
// that one holder at a time uses path.
func Lock(path string, m Mode) (Unlock, error) { return func() {}, nil }

// TryLock is Lock: it never fails with ErrLocked where flock is missing.
func TryLock(path string, m Mode) (Unlock, error) { return func() {}, nil }
