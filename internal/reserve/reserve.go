// Package reserve keeps disk space for writes that must not fail when a
// filesystem fills up: a file of zeros held in a directory (dir/.reserve), released when a
// write there fails with "no space left on device" so that the write can be
// tried again, and restored once there is room again. runnerd's outbox and
// log directory each hold one, so that a step that fills the disk its
// workspace shares with them still gets its log and its final report out.
package reserve

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// FileName is the reserve's file in its directory.
const FileName = ".reserve"

// DefaultSize is the space a reserve holds unless told otherwise.
const DefaultSize = 1 << 20

// Reserve is space held in one directory. Its methods are safe for
// concurrent use; all are best effort and never fail the caller.
type Reserve struct {
	path string
	size int64
	log  *slog.Logger

	mu   sync.Mutex
	held bool
}

// Open holds size bytes (DefaultSize when 0) in dir/.reserve, writing the
// file if it is missing or short. A reserve that cannot be written now (the
// disk is already full) is logged and tried again by Restore. size < 0
// holds nothing: the methods then do nothing.
func Open(dir string, size int64, log *slog.Logger) *Reserve {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if size == 0 {
		size = DefaultSize
	}
	r := &Reserve{path: filepath.Join(dir, FileName), size: size, log: log}
	if size > 0 {
		r.Restore()
	}
	return r
}

// NoSpace reports whether err says the filesystem is full (ENOSPC, or a
// quota's EDQUOT).
func NoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// Release frees the reserved space, for a write that failed with NoSpace to
// try again. It reports whether there was space to free.
func (r *Reserve) Release() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.held {
		return false
	}
	r.held = false
	if err := os.Remove(r.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		r.log.Warn("reserve: cannot release", "file", r.path, "err", err)
		return false
	}
	r.log.Warn("disk full: released the reserved space", "file", r.path, "bytes", r.size)
	return true
}

// Restore holds the space again after a Release, when the filesystem has
// room for it and as much again to spare; otherwise it leaves it for a later
// call.
func (r *Reserve) Restore() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.held || r.size <= 0 {
		return
	}
	if fi, err := os.Stat(r.path); err == nil && fi.Size() >= r.size {
		r.held = true
		return
	}
	if free, ok := freeBytes(filepath.Dir(r.path)); ok && free < 2*r.size {
		return
	}
	if err := writeZeros(r.path, r.size); err != nil {
		os.Remove(r.path)
		r.log.Warn("reserve: cannot hold space yet", "file", r.path, "err", err)
		return
	}
	r.held = true
}

// Held reports whether the space is held now.
func (r *Reserve) Held() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.held
}

// writeZeros writes size zero bytes to path and syncs them: real blocks,
// not a sparse file, so the space is taken from the filesystem.
func writeZeros(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	for left := size; left > 0 && err == nil; left -= int64(len(buf)) {
		_, err = f.Write(buf[:min(int64(len(buf)), left)])
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
