//go:build !unix

package sqlite

import "errors"

// ErrInUse is the error of opening a file another Store holds in a way that
// excludes this one; without flock it is never returned.
var ErrInUse = errors.New("the database is open in another store")

// lockFile takes no lock where flock is missing: there, the caller must make
// sure that an exclusive Store is the file's only one.
func lockFile(string, bool) (unlock func(), err error) { return func() {}, nil }
