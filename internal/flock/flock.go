// Package flock takes advisory locks on files (flock(2)), the one way narwhal
// keeps two processes, or two owners in one process, off the same file: the
// SQLite store's file, the runner's outbox directory, and the test stack's
// shared nodes.
//
// A lock belongs to the open file, not to the descriptor. A process being
// started holds a copy of every descriptor until its exec, so a lock released
// only by closing its descriptor stays held for as long as any process this
// one starts meanwhile takes to exec; Unlock releases it explicitly first. The
// kernel drops every lock of a process that dies, so a crash leaves nothing to
// clean up.
package flock

import "errors"

// ErrLocked is the error of TryLock when another holder's lock excludes the
// one asked for.
var ErrLocked = errors.New("locked by another holder, in this or another process")

// Mode is the kind of lock: Shared locks exclude only Exclusive ones.
type Mode int

// The modes of a lock.
const (
	Shared Mode = iota
	Exclusive
)

// Unlock releases a lock taken by Lock or TryLock. Calling it again does
// nothing.
type Unlock func()
