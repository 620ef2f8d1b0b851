// Package artifact uploads the files a step names in narwhal.yml
// (artifacts: paths, expire_in) to a blob.Store and sweeps them once
// expired.
//
// Collect finds the files: doublestar globs matched through an os.Root of
// the workspace, regular files only, never through a symbolic link (a link
// the step made is left out, with a note), bounded in count and size. Upload
// stores each under
//
//	artifacts/<YYYYMMDD>/<job ID>/<attempt>/<n>
//
// where YYYYMMDD is the UTC day the artifact expires: SweepExpired deletes
// what expired from the keys alone, without a database, and an S3 lifecycle
// rule can do the same by prefix. An artifact is kept until the end of its
// expiry day. The file's name, size and sha256 are in the ci.Artifact
// Upload returns (the job's record), not in the key.
package artifact

import (
	"errors"
	"fmt"
	"time"
)

// Prefix is the blob key prefix of every artifact.
const Prefix = "artifacts"

// Limits bound one step's artifacts.
type Limits struct {
	Files int   // 0 means DefaultFiles
	Bytes int64 // of all the files together; 0 means DefaultBytes
}

// Defaults of Limits.
const (
	DefaultFiles = 200     // each is a line of the job's record
	DefaultBytes = 2 << 30 // 2 GiB
)

func (l Limits) files() int {
	if l.Files > 0 {
		return l.Files
	}
	return DefaultFiles
}

func (l Limits) bytes() int64 {
	if l.Bytes > 0 {
		return l.Bytes
	}
	return DefaultBytes
}

// ErrTooLarge is the error of artifacts beyond their Limits.
var ErrTooLarge = errors.New("artifacts too large")

// dayLayout is the expiry day in keys.
const dayLayout = "20060102"

// Key is the blob key of the nth artifact of a job's attempt that expires
// at expires.
func Key(jobID string, attempt, n int, expires time.Time) string {
	return fmt.Sprintf("%s/%s/%s/%d/%d", Prefix, expires.UTC().Format(dayLayout), jobID, attempt, n)
}
