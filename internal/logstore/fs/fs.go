// Package fs is a logstore.Store in a local directory, for `narwhal dev` and
// for self-hosted setups with a shared disk. The log of job J is the directory
// dir/J holding chunk files 00000000.log, 00000001.log, ... and, once the log
// is finished, a file named complete: empty, or holding the log's last chunk
// (PutLast). Every file with data is written to a temporary name in the same
// directory, synced and renamed into place, so a reader sees a chunk whole or
// not at all.
package fs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/logstore"
)

// Store is a logstore.Store under one directory. It is safe for concurrent use.
type Store struct {
	dir string
}

var _ logstore.Store = (*Store)(nil)

// New returns a store that keeps logs under dir, which is created on the
// first write if it does not exist.
func New(dir string) *Store { return &Store{dir: dir} }

// PutChunk writes chunk seq of the job's log (see logstore.Store).
func (s *Store) PutChunk(ctx context.Context, jobID string, seq int, data []byte) error {
	return s.put(ctx, jobID, seq, data, false)
}

// PutLast writes chunk seq as the last of the job's log, in the completion
// marker (see logstore.Store): one file, where PutChunk and Finish make two.
func (s *Store) PutLast(ctx context.Context, jobID string, seq int, data []byte) error {
	if len(data) == 0 && logstore.CheckPut(jobID, seq) == nil {
		return s.Finish(ctx, jobID)
	}
	return s.put(ctx, jobID, seq, data, true)
}

// put writes chunk seq into its file: an ordinary chunk file, or the
// completion marker when last.
func (s *Store) put(ctx context.Context, jobID string, seq int, data []byte, last bool) error {
	if err := logstore.CheckPut(jobID, seq); err != nil {
		return err
	}
	if err := context.Cause(ctx); err != nil {
		return err
	}
	jobDir := filepath.Join(s.dir, jobID)
	fresh := false
	if seq == 0 {
		var err error
		if fresh, err = makeJobDir(jobDir); err != nil {
			return fmt.Errorf("create log directory of %s: %w", jobID, err)
		}
	}
	if !fresh {
		if done, err := checkPut(jobDir, jobID, seq, data, last); err != nil || done {
			return err
		}
		if err := os.MkdirAll(jobDir, 0o755); err != nil {
			return fmt.Errorf("create log directory of %s: %w", jobID, err)
		}
	}
	if err := writeAtomic(filepath.Join(jobDir, logstore.FileName(seq, last)), data); err != nil {
		return fmt.Errorf("put chunk %d of %s: %w", seq, jobID, err)
	}
	return nil
}

// makeJobDir creates the log directory of a job and says whether it did:
// a directory it made holds no chunk and no marker yet, so the first chunk
// of a log (the whole log of most jobs) skips checkPut's lookups.
func makeJobDir(jobDir string) (fresh bool, err error) {
	err = os.Mkdir(jobDir, 0o755)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, os.ErrExist):
		return false, nil
	case errors.Is(err, os.ErrNotExist): // the store's directory, made on the first write
		return true, os.MkdirAll(jobDir, 0o755)
	}
	return false, err
}

// checkPut says whether chunk seq may be written with data, as an ordinary
// chunk or (last) in the completion marker: done when it is there with that
// data already (a re-put, which succeeds), an error when it is there with
// other data, when the log is finished, or when chunk seq-1 is missing.
func checkPut(jobDir, jobID string, seq int, data []byte, last bool) (done bool, err error) {
	existing, err := os.ReadFile(filepath.Join(jobDir, logstore.ChunkName(seq)))
	switch {
	case err == nil && last:
		return false, fmt.Errorf("last chunk %d of %s is stored as an ordinary chunk: %w", seq, jobID, ci.ErrConflict)
	case err == nil:
		return true, samePut(jobID, seq, existing, data)
	case !errors.Is(err, os.ErrNotExist):
		return false, fmt.Errorf("read chunk %d of %s: %w", seq, jobID, err)
	}
	marker, err := os.ReadFile(filepath.Join(jobDir, logstore.CompleteName))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return false, fmt.Errorf("put chunk %d of %s: %w", seq, jobID, err)
	case last && len(marker) > 0:
		return true, samePut(jobID, seq, marker, data)
	default:
		return false, fmt.Errorf("put chunk %d of %s: %w", seq, jobID, logstore.ErrFinished)
	}
	if seq == 0 {
		return false, nil
	}
	return false, checkPrev(jobDir, jobID, seq)
}

// samePut is the answer to a re-put of an existing chunk.
func samePut(jobID string, seq int, existing, data []byte) error {
	if bytes.Equal(existing, data) {
		return nil
	}
	return fmt.Errorf("chunk %d of %s exists with other data: %w", seq, jobID, ci.ErrConflict)
}

// checkPrev fails unless chunk seq-1 is there as an ordinary chunk.
func checkPrev(jobDir, jobID string, seq int) error {
	ok, err := exists(filepath.Join(jobDir, logstore.ChunkName(seq-1)))
	if err != nil {
		return fmt.Errorf("put chunk %d of %s: %w", seq, jobID, err)
	}
	if !ok {
		return fmt.Errorf("put chunk %d of %s before chunk %d: %w", seq, jobID, seq-1, logstore.ErrOutOfOrder)
	}
	return nil
}

// Finish writes the completion marker of the job's log. It is idempotent.
func (s *Store) Finish(ctx context.Context, jobID string) error {
	if err := logstore.CheckJobID(jobID); err != nil {
		return err
	}
	if err := context.Cause(ctx); err != nil {
		return err
	}
	jobDir := filepath.Join(s.dir, jobID)
	if err := os.MkdirAll(jobDir, 0o755); err != nil {
		return fmt.Errorf("create log directory of %s: %w", jobID, err)
	}
	if err := createEmpty(filepath.Join(jobDir, logstore.CompleteName)); err != nil {
		return fmt.Errorf("finish log of %s: %w", jobID, err)
	}
	return nil
}

// createEmpty creates the empty file at path, when it does not exist. An
// empty file cannot be seen half written, so it needs neither writeAtomic's
// temporary file and rename nor its sync: the marker costs one inode and
// one system call, where it cost a rename and a disk write of its own on
// every job (issue 15).
func createEmpty(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}
