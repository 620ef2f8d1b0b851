// Package snapshot saves a job's workspace as a compressed tar stream and
// restores it: what lets a job re-run from a failed step start where the
// step's dependencies left the workspace, on any runner.
//
// A snapshot is a tar archive compressed with zstd (klauspost/compress, a
// well-kept pure-Go implementation; the archive streams through it, never
// whole in memory). It holds directories, regular files and symbolic links
// with their permission bits and modification times; anything else (devices,
// sockets, FIFOs) is left out, and hard links are stored as copies.
//
// SavePaths writes the same archive of some paths of a workspace only (a
// step's cache: paths), refusing a path that goes through a link.
//
// The workspace is a hostile commit's to shape, so both directions are
// bounded and confined: Save never follows a link (it walks with Lstat,
// stores links as links, and reads every file through an os.Root of the
// directory) and stops at Limits; Restore
// writes only through an os.Root of the target, so neither a ".." in a name
// nor a link restored earlier can reach outside it, and refuses what Save
// would never have written.
package snapshot

import (
	"errors"
	"fmt"
)

// Limits bound a snapshot.
type Limits struct {
	Bytes   int64 // of file content, uncompressed; 0 means DefaultBytes
	Entries int   // files, directories and links; 0 means DefaultEntries
}

// Defaults of Limits.
const (
	DefaultBytes   = 2 << 30 // 2 GiB
	DefaultEntries = 500_000
)

func (l Limits) bytes() int64 {
	if l.Bytes > 0 {
		return l.Bytes
	}
	return DefaultBytes
}

func (l Limits) entries() int {
	if l.Entries > 0 {
		return l.Entries
	}
	return DefaultEntries
}

// ErrTooLarge is the error of a workspace (or archive) beyond its Limits.
var ErrTooLarge = errors.New("snapshot too large")

func tooLarge(what string, limit any) error {
	return fmt.Errorf("%w: more than %v %s", ErrTooLarge, limit, what)
}
