package snapshot

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/narwhal-ci/narwhal/internal/blob"
)

// Key is the blob key of the snapshot of job (attempt) taken after step
// succeeded. Job IDs and step names are valid key segments (ci.ValidJobID,
// the pipeline's step names); a step name that is not gives a key the blob
// store refuses.
func Key(jobID string, attempt int, step string) string {
	return fmt.Sprintf("snapshots/%s/%d/%s.tar.zst", jobID, attempt, step)
}

// Prefix is the key prefix of every snapshot, for the retention sweep.
const Prefix = "snapshots"

// Put saves dir as the snapshot key of store, spooling the archive to a
// temporary file in spool (the workspace's filesystem, not memory) first.
// It returns the bytes of content saved and the archive's size.
func Put(ctx context.Context, store blob.Store, key, dir, spool string, lim Limits) (content, archive int64, err error) {
	f, err := os.CreateTemp(spool, "snapshot-*.tar.zst")
	if err != nil {
		return 0, 0, fmt.Errorf("snapshot %s: %w", key, err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if content, err = Save(ctx, dir, f, lim); err != nil {
		return 0, 0, err
	}
	if archive, err = f.Seek(0, io.SeekCurrent); err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err == nil {
		err = store.Put(ctx, key, f)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("snapshot %s: %w", key, err)
	}
	return content, archive, nil
}

// Get restores the snapshot key of store into dir; a snapshot that is not
// there (never taken, or expired) is an error matching ci.ErrNotFound.
func Get(ctx context.Context, store blob.Store, key, dir string, lim Limits) (int64, error) {
	r, err := store.Open(ctx, key)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	return Restore(ctx, r, dir, lim)
}
