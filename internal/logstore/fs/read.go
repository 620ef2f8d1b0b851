package fs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/logstore"
)

// Read returns up to limit bytes of the job's log from offset (see
// logstore.Store). It checks the completion marker before listing the
// chunks, so a log seen complete is seen with all of its chunks; the
// marker's bytes, if any, are the last of them.
func (s *Store) Read(ctx context.Context, jobID string, offset int64, limit int) ([]byte, bool, error) {
	data, complete, _, err := s.ReadTimed(ctx, jobID, offset, limit)
	return data, complete, err
}

// ReadTimed is Read that also returns the chunks it listed, with their file
// times; see logstore.Timed.
func (s *Store) ReadTimed(ctx context.Context, jobID string, offset int64, limit int) ([]byte, bool, []logstore.Chunk, error) {
	if err := logstore.CheckRead(jobID, offset, limit); err != nil {
		return nil, false, nil, err
	}
	if err := context.Cause(ctx); err != nil {
		return nil, false, nil, err
	}
	jobDir := filepath.Join(s.dir, jobID)
	marker, err := os.Stat(filepath.Join(jobDir, logstore.CompleteName))
	finished := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, false, nil, fmt.Errorf("read log of %s: %w", jobID, err)
	}
	chunks, err := list(jobDir)
	if err != nil {
		return nil, false, nil, fmt.Errorf("read log of %s: %w", jobID, err)
	}
	if finished {
		chunks = logstore.WithMarker(chunks, marker.Size(), marker.ModTime())
	}
	if !finished && len(chunks) == 0 {
		return nil, false, nil, fmt.Errorf("log of %s: %w", jobID, ci.ErrNotFound)
	}
	spans, total := logstore.Plan(chunks, offset, limit)
	data, err := readSpans(jobDir, spans)
	if err != nil {
		return nil, false, nil, fmt.Errorf("read log of %s: %w", jobID, err)
	}
	return data, logstore.Complete(finished, offset, len(data), total), chunks, nil
}

// list returns the chunks in jobDir in seq order; a missing directory has none.
func list(jobDir string) ([]logstore.Chunk, error) {
	entries, err := os.ReadDir(jobDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var chunks []logstore.Chunk
	for _, e := range entries {
		seq, ok := logstore.ParseChunkName(e.Name())
		if !ok {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, err
		}
		chunks = append(chunks, logstore.Chunk{Seq: seq, Size: info.Size(), Written: info.ModTime()})
	}
	sort.Slice(chunks, func(i, j int) bool { return chunks[i].Seq < chunks[j].Seq })
	return chunks, nil
}

func readSpans(jobDir string, spans []logstore.Span) ([]byte, error) {
	var data []byte
	for _, sp := range spans {
		f, err := os.Open(filepath.Join(jobDir, sp.File()))
		if err != nil {
			return nil, err
		}
		buf := make([]byte, sp.Len)
		n, err := f.ReadAt(buf, sp.Off)
		f.Close()
		if int64(n) < sp.Len { // io.EOF with n == Len is a full read
			return nil, fmt.Errorf("chunk %d: short read: %w", sp.Seq, err)
		}
		data = append(data, buf...)
	}
	return data, nil
}
