package diskguard

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// errMissing: a watched path does not exist (yet).
var errMissing = errors.New("no such path")

// fsUse is the use of one filesystem, measured through one of its paths.
type fsUse struct {
	path    string  // the watched path it was measured through
	dev     uint64  // the filesystem's device: paths on one count once
	percent float64 // used, as df counts it: used / (used + available to users)
}

// statFS measures the filesystem holding path.
func statFS(path string) (fsUse, error) {
	dev, err := deviceOf(path)
	if err != nil {
		return fsUse{}, err
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return fsUse{}, fmt.Errorf("statfs %s: %w", path, err)
	}
	used := float64(st.Blocks - st.Bfree)
	total := used + float64(st.Bavail)
	pct := 0.0
	if total > 0 {
		pct = used * 100 / total
	}
	return fsUse{path: path, dev: dev, percent: pct}, nil
}

// deviceOf returns the device of the filesystem holding path.
func deviceOf(path string) (uint64, error) {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("stat %s: %w", path, errMissing)
	}
	if err != nil {
		return 0, fmt.Errorf("stat %s: %w", path, err)
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("stat %s: no device number", path)
	}
	return uint64(st.Dev), nil //nolint:unconvert // Dev is not uint64 on every platform
}
