//go:build !unix

package pipeline

// openFlags: elsewhere ReadFile relies on its Lstat and on the Stat of the
// open file.
const openFlags = 0
