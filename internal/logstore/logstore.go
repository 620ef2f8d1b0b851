// Package logstore keeps the logs of jobs where the dispatcher and the CLI can
// read them while the job runs and after it ended. A log is a sequence of
// numbered chunks plus a completion marker, which may hold the last chunk;
// Store is the contract, fs and s3 are the implementations (logstoretest is
// the suite both pass), and Shipper turns a job's log lines into chunks.
// docs/logs.md describes the layout.
package logstore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// Store keeps the log of each job as numbered chunks.
//
// Contract, for every implementation (see internal/logstore/logstoretest):
//   - Safe for concurrent use across jobs, with one writer per job.
//   - PutChunk stores chunk seq of the job's log. The writer puts
//     seq = 0, 1, 2, ... in order: a seq beyond the next one fails with
//     ErrOutOfOrder, and a new chunk after Finish with ErrFinished. Putting a
//     seq that exists with the same data is a no-op that returns nil (a
//     retry after an ambiguous failure); with other data it fails with
//     ci.ErrConflict. A chunk is visible to readers whole or not at all.
//   - PutLast stores chunk seq as the log's last and marks the log complete
//     in the same write: PutChunk and Finish in one, which is how a Shipper
//     ends a log that has lines (one write, one file or object, less per
//     job). It fails as PutChunk does for a seq out of order, and with
//     ErrFinished after Finish; putting it again with the same data is a
//     no-op, with other data ci.ErrConflict, and so is a PutLast of a seq
//     that is stored as an ordinary chunk. PutLast with no data is Finish.
//   - Finish marks the log complete. It is idempotent (after PutLast too);
//     a job that only ever saw Finish has an empty, complete log. After
//     either, PutChunk of a new chunk fails with ErrFinished.
//   - Read returns up to limit bytes of the log starting at byte offset
//     (counted across chunks): fewer only where the log written so far ends.
//     complete is true when the log is finished and offset+len(data) reaches
//     its end. An offset past the end returns no data. A job with neither a
//     chunk nor Finish is unknown: ci.ErrNotFound. A negative offset or a
//     limit <= 0 is ErrInvalid.
//   - A job ID must pass ValidJobID, else every method fails with
//     ErrInvalid (this keeps IDs out of paths and key prefixes).
//   - Errors of the backend are returned wrapped; ctx bounds each call.
type Store interface {
	PutChunk(ctx context.Context, jobID string, seq int, data []byte) error
	PutLast(ctx context.Context, jobID string, seq int, data []byte) error
	Finish(ctx context.Context, jobID string) error
	Read(ctx context.Context, jobID string, offset int64, limit int) (data []byte, complete bool, err error)
}

// Sentinel errors of the Store contract, wrapped by implementations so that
// callers test them with errors.Is. An unknown job is ci.ErrNotFound and a
// re-put with other data ci.ErrConflict.
var (
	// ErrInvalid: a malformed job ID, a negative seq or offset, or a limit <= 0.
	ErrInvalid = errors.New("invalid argument")
	// ErrOutOfOrder: PutChunk skipped a seq (chunk seq-1 does not exist).
	ErrOutOfOrder = errors.New("chunk out of order")
	// ErrFinished: PutChunk of a new chunk after Finish.
	ErrFinished = errors.New("log already finished")
)

// MaxSeq is the highest chunk number: chunk names have SeqDigits digits.
const MaxSeq = 99_999_999

// SeqDigits is the width of the zero-padded chunk number in chunk names, so
// that names sort like numbers.
const SeqDigits = 8

// CompleteName is the name of the completion marker beside the chunks. The
// marker is empty, or holds the log's last chunk (PutLast): chunk n of a log
// with ordinary chunks 0 … n-1. Either way the log is its chunks in order
// and then the marker's bytes, so a log written before PutLast, with an
// empty marker, reads the same.
const CompleteName = "complete"

var chunkPattern = regexp.MustCompile(`^[0-9]{8}\.log$`)

// CheckJobID returns an ErrInvalid error unless id is a valid job ID
// (ci.ValidJobID).
func CheckJobID(id string) error {
	if !ci.ValidJobID(id) {
		return fmt.Errorf("job ID %q: %w", id, ErrInvalid)
	}
	return nil
}

// CheckPut validates the arguments of PutChunk.
func CheckPut(jobID string, seq int) error {
	if seq < 0 || seq > MaxSeq {
		return fmt.Errorf("chunk %d: %w", seq, ErrInvalid)
	}
	return CheckJobID(jobID)
}

// CheckRead validates the arguments of Read.
func CheckRead(jobID string, offset int64, limit int) error {
	if offset < 0 || limit <= 0 {
		return fmt.Errorf("read at %d, limit %d: %w", offset, limit, ErrInvalid)
	}
	return CheckJobID(jobID)
}

// ChunkName is the file or object name of chunk seq, e.g. "00000042.log".
func ChunkName(seq int) string { return fmt.Sprintf("%0*d.log", SeqDigits, seq) }

// FileName is the file or object name that holds chunk seq: the completion
// marker for the last chunk stored by PutLast, ChunkName otherwise.
func FileName(seq int, last bool) string {
	if last {
		return CompleteName
	}
	return ChunkName(seq)
}

// ParseChunkName returns the seq of a chunk name, and false for any other
// name (the completion marker, temporary files).
func ParseChunkName(name string) (int, bool) {
	if !chunkPattern.MatchString(name) {
		return 0, false
	}
	seq, err := strconv.Atoi(name[:SeqDigits])
	return seq, err == nil
}

// LogID names the log of one attempt of a job in a Store: the job ID for the
// first attempt, "<job ID>.<attempt>" for later ones. A finished log takes no
// more chunks, so a requeued job writes a log of its own; runners write and
// readers (the REST API) read through this one function.
func LogID(jobID string, attempt int) string {
	if attempt <= 1 {
		return jobID
	}
	return jobID + "." + strconv.Itoa(attempt)
}
