package github

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"

	"github.com/narwhal-ci/narwhal/internal/pipeline"
)

// hexSHA is what readGit passes to git: never an option.
var hexSHA = regexp.MustCompile(`^[0-9a-fA-F]{4,64}$`)

// readGit reads narwhal.yml at sha from the repository at dir; nil data when
// git cannot show it. The tree entry is checked first: a symbolic link
// (mode 120000, whose blob git would print as the link's target), anything
// but a blob, or a blob larger than pipeline.MaxSize is a
// *pipeline.FileError, and the blob is read through ReadLimited.
func readGit(ctx context.Context, dir, sha string) ([]byte, error) {
	if !hexSHA.MatchString(sha) {
		return nil, nil
	}
	entry, err := treeEntry(ctx, dir, sha)
	if entry == nil || err != nil {
		return nil, err
	}
	if err := entry.check(); err != nil {
		return nil, err
	}
	return catBlob(ctx, dir, entry.object)
}

// gitEntry is narwhal.yml's entry in a commit's tree.
type gitEntry struct {
	mode, kind, object string
	size               int64 // -1 when git gives none (not a blob)
}

// treeEntry lists narwhal.yml at the root of sha's tree; nil when git cannot
// (no such repository, commit or file).
func treeEntry(ctx context.Context, dir, sha string) (*gitEntry, error) {
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "ls-tree", "-l", "-z", sha, "--", PipelineFile).Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) && ctx.Err() == nil {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("git ls-tree: %w", err)
	}
	// "<mode> <type> <object> <size>\t<path>\x00"
	meta, _, ok := bytes.Cut(out, []byte("\t"))
	f := strings.Fields(string(meta))
	if !ok || len(f) != 4 {
		return nil, nil
	}
	size, err := strconv.ParseInt(f[3], 10, 64)
	if err != nil {
		size = -1 // "-" for a tree or submodule
	}
	return &gitEntry{mode: f[0], kind: f[1], object: f[2], size: size}, nil
}

// check refuses an entry that is not a regular file of at most MaxSize.
func (e *gitEntry) check() error {
	switch {
	case e.mode == "120000":
		return &pipeline.FileError{Name: PipelineFile, Err: pipeline.ErrSymlink}
	case e.kind != "blob" || e.size < 0:
		return &pipeline.FileError{Name: PipelineFile, Err: pipeline.ErrNotRegular}
	case e.size > pipeline.MaxSize:
		return &pipeline.FileError{Name: PipelineFile, Err: pipeline.ErrTooLarge}
	}
	return nil
}

// catBlob reads the blob object of dir through pipeline.ReadLimited, and
// kills git if it gives more than MaxSize bytes.
func catBlob(ctx context.Context, dir, object string) ([]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", "-C", dir, "cat-file", "blob", object)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("git cat-file: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("git cat-file: %w", err)
	}
	data, readErr := pipeline.ReadLimited(stdout, PipelineFile)
	if readErr != nil {
		cancel() // kill git rather than wait for the rest
	}
	waitErr := cmd.Wait()
	if readErr != nil {
		return nil, readErr
	}
	if waitErr != nil {
		return nil, fmt.Errorf("git cat-file: %w", waitErr)
	}
	return data, nil
}
