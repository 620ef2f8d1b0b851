//go:build !unix

package outbox

// lockDir does nothing where flock is missing: there, the caller must make
// sure that one process at a time opens the directory.
func lockDir(dir string) (unlock func(), err error) { return func() {}, nil }
