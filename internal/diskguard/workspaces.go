package diskguard

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/narwhal-ci/narwhal/internal/workspace"
)

// Workspaces evicts job directories left in a runner's work dir (by a
// removal that failed, or a crash) that no running job holds. Job
// directories are named by workspace.NewDir: the job ID (cut to 64 bytes),
// '-', a random suffix.
type Workspaces struct {
	// Root is the directory holding the job directories. Required.
	Root string
	// Running returns the IDs of the jobs running now; their directories
	// are never evicted. An error evicts no workspace. Required.
	Running func(ctx context.Context) ([]string, error)
	// Reclaim, when set, makes a directory removable by this process when a
	// plain removal failed (runner.Deps.Reclaim: steps that ran as root in a
	// container leave root-owned files).
	Reclaim func(ctx context.Context, dir string) error
}

// Name is "workspaces".
func (w Workspaces) Name() string { return "workspaces" }

// Candidates lists the directories under Root that no running job holds,
// last used when last modified.
func (w Workspaces) Candidates(ctx context.Context) ([]Candidate, error) {
	entries, err := os.ReadDir(w.Root)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list workspaces: %w", err)
	}
	// Listed after the directories: a job that made its directory before
	// the listing is running (or done) by now.
	running, err := w.Running(ctx)
	if err != nil {
		return nil, fmt.Errorf("list workspaces: running jobs: %w", err)
	}
	var out []Candidate
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !e.IsDir() || held(e.Name(), running) {
			continue
		}
		dir := filepath.Join(w.Root, e.Name())
		out = append(out, Candidate{What: "workspace " + dir, Path: w.Root, LastUsed: info.ModTime(),
			Bytes: treeSize(dir), Remove: func(ctx context.Context) error { return w.remove(ctx, dir) }})
	}
	return out, nil
}

// remove deletes dir unless a job that holds it started since the listing.
func (w Workspaces) remove(ctx context.Context, dir string) error {
	running, err := w.Running(ctx)
	if err != nil {
		return fmt.Errorf("remove workspace: running jobs: %w", err)
	}
	if held(filepath.Base(dir), running) {
		return fmt.Errorf("remove workspace %s: a running job holds it", dir)
	}
	err = workspace.Remove(dir)
	if err == nil || w.Reclaim == nil {
		return err
	}
	if rerr := w.Reclaim(ctx, dir); rerr != nil {
		return fmt.Errorf("remove workspace %s: %w", dir, errors.Join(err, rerr))
	}
	return workspace.Remove(dir)
}

// held reports whether the directory name belongs to one of the running
// jobs: it starts with the job's directory prefix. A prefix may match the
// directory of another job whose ID extends it; that keeps a directory, it
// never loses one.
func held(name string, running []string) bool {
	return slices.ContainsFunc(running, func(id string) bool {
		if len(id) > 64 {
			id = id[:64]
		}
		return strings.HasPrefix(name, id+"-")
	})
}

// treeSize adds up the sizes of the regular files under dir, best effort.
func treeSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
