package github

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"

	gh "github.com/google/go-github/v57/github"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// Bounds of a diff read for path filters: a diff beyond them counts as
// unknown, and unknown files match every path filter.
const (
	// MaxDiffBytes bounds the output of git diff --name-only.
	MaxDiffBytes = 1 << 20
	// compareFileLimit is the most files GitHub's compare API lists; an
	// answer that reaches it may have left some out.
	compareFileLimit = 300
)

// ChangedFiles returns the files job changed: the webhook's list when it is
// complete, otherwise a diff of the job's base and SHA (git diff for local
// repositories; for GitHub the compare API, GET /repos/{o}/{r}/compare/
// {base}...{head}). For a push the diff is before..after, for a pull request
// base...head (from the merge base). known is false when there is no base, or
// the diff is larger than its bounds or cannot be had (the repository or a
// commit is gone): then path filters match. An error means GitHub could not
// be asked now.
func (f *ConfigFetcher) ChangedFiles(ctx context.Context, job ci.Job) (files []string, known bool, err error) {
	c := job.Changes
	switch {
	case c.Known:
		return c.Files, true, nil
	case !ci.ValidSHA(c.Base) || !ci.ValidSHA(job.SHA):
		return nil, false, nil
	case IsLocal(job.CloneURL):
		return gitDiff(ctx, localPath(job.CloneURL), diffRange(job))
	}
	return f.compare(ctx, job)
}

// diffRange is the git revision range of job's changes.
func diffRange(job ci.Job) string {
	if job.Event == ci.EventPullRequest {
		return job.Changes.Base + "..." + job.SHA
	}
	return job.Changes.Base + ".." + job.SHA
}

// gitDiff lists the files of revision range rng in the repository at dir,
// reading at most MaxDiffBytes of git's output.
func gitDiff(ctx context.Context, dir, rng string) ([]string, bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", "-C", dir, "diff", "--name-only", "--no-renames", "-z", rng, "--")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, false, fmt.Errorf("git diff: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, false, fmt.Errorf("git diff: %w", err)
	}
	out, _ := io.ReadAll(io.LimitReader(stdout, MaxDiffBytes+1))
	if len(out) > MaxDiffBytes {
		cancel() // kill git rather than wait for the rest
	}
	waitErr := cmd.Wait()
	if len(out) > MaxDiffBytes || waitErr != nil {
		return nil, false, nil // too large, or git cannot show the range
	}
	if len(out) == 0 {
		return nil, true, nil
	}
	return strings.Split(string(bytes.TrimSuffix(out, []byte{0})), "\x00"), true, nil
}

// compare lists the files of job's changes through the compare API.
func (f *ConfigFetcher) compare(ctx context.Context, job ci.Job) ([]string, bool, error) {
	owner, repo, ok := strings.Cut(job.Repo, "/")
	if f.clients == nil || !ok {
		return nil, false, nil
	}
	client, err := f.clients.Client(ctx, job.Repo)
	if err != nil {
		return nil, false, fmt.Errorf("compare %s...%.12s: %w", job.Changes.Base, job.SHA, err)
	}
	cmp, _, err := client.Repositories.CompareCommits(ctx, owner, repo, job.Changes.Base, job.SHA,
		&gh.ListOptions{PerPage: compareFileLimit})
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil && er.Response.StatusCode < 500 && er.Response.StatusCode != 429 {
		return nil, false, nil // a commit GitHub does not know: unknown
	}
	if err != nil {
		return nil, false, fmt.Errorf("compare %s...%.12s: %w", job.Changes.Base, job.SHA, err)
	}
	if len(cmp.Files) >= compareFileLimit {
		return nil, false, nil
	}
	files := make([]string, 0, len(cmp.Files))
	for _, file := range cmp.Files {
		files = append(files, file.GetFilename())
	}
	return files, true, nil
}
