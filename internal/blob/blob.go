// Package blob is narwhal's store of large named objects that steps leave
// behind: the workspace snapshots that let a job re-run from a failed step
// (internal/snapshot), kept on the runner's disk or in narwhal dev's
// directory (blob/fs) and in S3 in AWS (blob/s3). It has the shape of the
// log store's two backends, for objects written once as a whole.
//
// Contract, for every implementation (the suite in blob/blobtest):
//   - Keys are one to eight "/"-separated segments of letters, digits, '.',
//     '_' and '-' that do not start with '.'; other keys are refused with an
//     error matching ErrBadKey before anything is touched.
//   - Put stores what r holds from its current offset to its end under key,
//     replacing what was there; the object is visible only once complete (a
//     failed or cancelled Put, a read error included, leaves the old object
//     or none). r is seekable because S3 needs the length and a checksum
//     before the body: callers spool to a file.
//   - Open returns the object's content, and an error matching
//     ci.ErrNotFound for a key never put or deleted. The caller closes it.
//   - Delete removes the object; deleting a missing one is not an error.
//   - Sweep deletes the objects below prefix (a key: "snapshots" covers
//     "snapshots/..."; "" covers all) last put or touched before the given
//     time and returns how many it deleted: the retention pass.
//   - List returns the objects below prefix (as for Sweep) in key order,
//     with their size and when they were last put or touched; at most
//     MaxList of them, the first ones in key order, with an error matching
//     ErrTruncated when there are more (a caller that can work through a
//     part, a sweep, may use what it got).
//   - Touch marks the object used now: its Modified becomes the time of the
//     Touch, as a Put would have set it, and its content stays (what
//     least-recently-used eviction orders by). A missing key is an error
//     matching ci.ErrNotFound.
//   - All methods are safe for concurrent use and honour ctx.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// Store keeps named objects; see the package contract.
type Store interface {
	Put(ctx context.Context, key string, r io.ReadSeeker) error
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	Delete(ctx context.Context, key string) error
	Sweep(ctx context.Context, prefix string, before time.Time) (int, error)
	List(ctx context.Context, prefix string) ([]Object, error)
	Touch(ctx context.Context, key string) error
}

// Object is one stored object, as List gives it.
type Object struct {
	Key      string
	Size     int64     // bytes
	Modified time.Time // the last Put or Touch
}

// MaxList bounds the objects one List returns.
const MaxList = 100_000

// ErrTruncated is the error of a List that found more than MaxList objects.
var ErrTruncated = errors.New("blob listing truncated")

// Truncated is the error a List returns along with its first MaxList
// objects below prefix.
func Truncated(prefix string) error {
	return fmt.Errorf("list blobs %q: %w after %d objects", prefix, ErrTruncated, MaxList)
}

// ErrBadKey is the error of a key outside the contract.
var ErrBadKey = errors.New("bad blob key")

// maxSegments bounds a key's depth.
const maxSegments = 8

// segment is what each part of a key must look like, in at most
// maxSegmentLen bytes. The length is checked apart: a counted repetition
// ({0,127}) compiles to a program per count, a millisecond of every cold
// start (issue 15).
var segment = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]*$`)

const maxSegmentLen = 128

// CheckKey returns an error matching ErrBadKey unless key follows the
// package contract.
func CheckKey(key string) error {
	parts := strings.Split(key, "/")
	if len(parts) > maxSegments {
		return fmt.Errorf("%w %q: more than %d segments", ErrBadKey, key, maxSegments)
	}
	for _, p := range parts {
		if len(p) > maxSegmentLen || !segment.MatchString(p) {
			return fmt.Errorf("%w %q", ErrBadKey, key)
		}
	}
	return nil
}

// CheckPrefix is CheckKey for a Sweep prefix, which may also be empty.
func CheckPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return CheckKey(strings.TrimSuffix(prefix, "/"))
}
