package artifact

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"time"

	"github.com/narwhal-ci/narwhal/internal/blob"
	"github.com/narwhal-ci/narwhal/internal/ci"
)

// Target says whose artifacts Upload stores.
type Target struct {
	JobID   string
	Attempt int
	Step    string
	// First is the number of the first file's key; the files of one job's
	// attempt must get different numbers (the runner counts them per job).
	First   int
	Expires time.Time
}

// Upload stores each of files (from Collect) of the workspace dir under its
// key (Key, numbered from t.First), computing its sha256 while the store
// reads it, and returns the artifacts stored, in order. A file is read
// through an os.Root of dir without following a link, and no further than
// the size Collect saw. It stops at the first error, returning the
// artifacts stored before it.
func Upload(ctx context.Context, store blob.Store, dir string, files []File, t Target) ([]ci.Artifact, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("upload artifacts: %w", err)
	}
	defer root.Close()
	var out []ci.Artifact
	for i, f := range files {
		a := ci.Artifact{Name: f.Name, Step: t.Step, Key: Key(t.JobID, t.Attempt, t.First+i, t.Expires), ExpiresAt: t.Expires.UTC()}
		a.Size, a.SHA256, err = put(ctx, store, root, f, a.Key)
		if err != nil {
			return out, fmt.Errorf("upload artifact %s: %w", f.Name, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// put stores the file f under key and returns its size and sha256.
func put(ctx context.Context, store blob.Store, root *os.Root, f File, key string) (int64, string, error) {
	file, err := root.OpenFile(f.Name, os.O_RDONLY|o_NOFOLLOW, 0)
	if err != nil {
		return 0, "", err
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return 0, "", err
	}
	if !info.Mode().IsRegular() {
		return 0, "", errors.New("not a regular file")
	}
	size := min(info.Size(), f.Size) // a file that grew since Collect is cut at what was counted
	h := &hashing{r: io.NewSectionReader(file, 0, size), h: sha256.New()}
	if err := store.Put(ctx, key, h); err != nil {
		return 0, "", err
	}
	if h.hashed != size { // the store did not read it through once from the start
		if _, err := h.Seek(0, io.SeekStart); err != nil {
			return 0, "", err
		}
		if _, err := io.Copy(io.Discard, h); err != nil {
			return 0, "", err
		}
	}
	if h.hashed != size {
		return 0, "", fmt.Errorf("read %d of its %d bytes", h.hashed, size)
	}
	return size, hex.EncodeToString(h.h.Sum(nil)), nil
}

// hashing is a ReadSeeker that hashes what is read of it in one pass from
// the start (S3's client reads the body twice: once for its own checksum,
// and seeks back): a seek to the start begins the hash again.
type hashing struct {
	r      io.ReadSeeker
	h      hash.Hash
	pos    int64
	hashed int64 // bytes [0, hashed) are in h
}

func (x *hashing) Read(p []byte) (int, error) {
	n, err := x.r.Read(p)
	if x.pos == x.hashed {
		x.h.Write(p[:n])
		x.hashed += int64(n)
	}
	x.pos += int64(n)
	return n, err
}

func (x *hashing) Seek(off int64, whence int) (int64, error) {
	pos, err := x.r.Seek(off, whence)
	if err != nil {
		return pos, err
	}
	x.pos = pos
	if pos == 0 {
		x.h.Reset()
		x.hashed = 0
	}
	return pos, nil
}

// SweepExpired deletes every artifact whose expiry day ended before now and
// returns how many it deleted: the scheduled monitor's pass. The keys are in
// day order, so a listing cut at blob.MaxList deletes the oldest first (the
// next pass goes on); the error then says so, with the count.
func SweepExpired(ctx context.Context, store blob.Store, now time.Time) (int, error) {
	objs, listErr := store.List(ctx, Prefix)
	if listErr != nil && !errors.Is(listErr, blob.ErrTruncated) {
		return 0, fmt.Errorf("sweep artifacts: %w", listErr)
	}
	n := 0
	for _, o := range objs {
		if !expired(o.Key, now) {
			continue
		}
		if err := store.Delete(ctx, o.Key); err != nil {
			return n, fmt.Errorf("sweep artifacts: %w", err)
		}
		n++
	}
	if listErr != nil {
		return n, fmt.Errorf("sweep artifacts: %w", listErr)
	}
	return n, nil
}

// expired reports whether the expiry day in key ended before now; a key
// without one is not an artifact's and stays.
func expired(key string, now time.Time) bool {
	parts := strings.Split(key, "/")
	if len(parts) < 2 {
		return false
	}
	day, err := time.Parse(dayLayout, parts[1])
	return err == nil && !now.Before(day.AddDate(0, 0, 1))
}
