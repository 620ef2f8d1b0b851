package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// NewDir creates an empty, uniquely named directory for one job under root
// (root/<jobID>-<random>) and returns its path. root is created with mode 0700
// when missing, keeping other users of the host out; the job directory itself
// is 0755 so that a step running as a non-root user in a container can still
// enter the bind-mounted workspace.
func NewDir(root, jobID string) (string, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", fmt.Errorf("create workspace root: %w", err)
	}
	dir, err := os.MkdirTemp(root, safeName(jobID)+"-")
	if err != nil {
		return "", fmt.Errorf("create job directory: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", fmt.Errorf("create job directory: %w", err)
	}
	return dir, nil
}

// safeName turns a job ID into a file name: characters other than letters,
// digits, '.', '_' and '-' become '_', and the result is at most 64 bytes.
func safeName(id string) string {
	b := []byte(id)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == '-'
		if !ok {
			b[i] = '_'
		}
	}
	if len(b) > 64 {
		b = b[:64]
	}
	if len(b) == 0 {
		return "job"
	}
	return string(b)
}

// Remove deletes dir and everything in it, including read-only files and
// directories (it makes directories writable first when a plain removal
// fails). A missing dir is not an error, so Remove is idempotent. It refuses
// to remove "" and "/".
func Remove(dir string) error {
	if dir == "" || filepath.Clean(dir) == string(filepath.Separator) {
		return fmt.Errorf("remove workspace: refusing to remove %q", dir)
	}
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	makeWritable(dir)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove workspace: %w", err)
	}
	return nil
}

// makeWritable gives the owner full access to every directory under dir
// (symlinks are not followed), which is what deleting their entries needs.
// It is best-effort: entries it cannot change are left to RemoveAll to report.
func makeWritable(dir string) {
	_ = os.Chmod(dir, 0o700)
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
}

// Sweep removes the directories directly under root last modified more than
// olderThan ago: job directories a crashed runner left behind. Call it at
// startup before jobs start, or with olderThan longer than the longest job,
// since a running job's directory may not have been modified recently. It
// returns how many directories it removed; a missing root is not an error, and
// a directory that cannot be removed does not stop the others.
func Sweep(root string, olderThan time.Duration) (int, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sweep workspaces: %w", err)
	}
	cutoff := time.Now().Add(-olderThan)
	removed, errs := 0, []error(nil)
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !e.IsDir() || !info.ModTime().Before(cutoff) {
			continue
		}
		if err := Remove(filepath.Join(root, e.Name())); err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("sweep workspaces: %w", err)
	}
	return removed, nil
}
