// Package fs is a logstore.Store in a local directory, for `narwhal dev` and
// for self-hosted setups with a shared disk. The log of job J is the directory
// dir/J holding chunk files 00000000.log, 00000001.log, ... and, once the log
// is finished, an empty file named complete. Every file is written to a
// temporary name in the same directory, synced and renamed into place, so a
// reader sees a chunk whole or not at all.
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
	if err := logstore.CheckPut(jobID, seq); err != nil {
		return err
	}
	if err := context.Cause(ctx); err != nil {
		return err
	}
	jobDir := filepath.Join(s.dir, jobID)
	path := filepath.Join(jobDir, logstore.ChunkName(seq))
	fresh := false
	if seq == 0 {
		var err error
		if fresh, err = makeJobDir(jobDir); err != nil {
			return fmt.Errorf("create log directory of %s: %w", jobID, err)
		}
	}
	if !fresh {
		if done, err := s.checkPut(jobDir, path, jobID, seq, data); err != nil || done {
			return err
		}
		if err := os.MkdirAll(jobDir, 0o755); err != nil {
			return fmt.Errorf("create log directory of %s: %w", jobID, err)
		}
	}
	if err := writeAtomic(path, data); err != nil {
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

// checkPut says whether chunk seq (at path) may be written with data: done
// when it is there with that data already (a re-put, which succeeds), an
// error when it is there with other data or checkNew refuses it.
func (s *Store) checkPut(jobDir, path, jobID string, seq int, data []byte) (done bool, err error) {
	existing, err := os.ReadFile(path)
	switch {
	case err == nil:
		return true, samePut(jobID, seq, existing, data)
	case !errors.Is(err, os.ErrNotExist):
		return false, fmt.Errorf("read chunk %d of %s: %w", seq, jobID, err)
	}
	return false, s.checkNew(jobDir, jobID, seq)
}

// samePut is the answer to a re-put of an existing chunk.
func samePut(jobID string, seq int, existing, data []byte) error {
	if bytes.Equal(existing, data) {
		return nil
	}
	return fmt.Errorf("chunk %d of %s exists with other data: %w", seq, jobID, ci.ErrConflict)
}

// checkNew fails when a new chunk seq may not be written: the log is
// finished, or chunk seq-1 is missing.
func (s *Store) checkNew(jobDir, jobID string, seq int) error {
	if ok, err := exists(filepath.Join(jobDir, logstore.CompleteName)); err != nil || ok {
		if err != nil {
			return fmt.Errorf("put chunk %d of %s: %w", seq, jobID, err)
		}
		return fmt.Errorf("put chunk %d of %s: %w", seq, jobID, logstore.ErrFinished)
	}
	if seq == 0 {
		return nil
	}
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
