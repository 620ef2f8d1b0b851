package runner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/narwhal-ci/narwhal/internal/pipeline"
	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/workspace"
)

// PipelineFile is the pipeline's file name at the root of a repository.
const PipelineFile = "narwhal.yml"

// Checkout fills a job's empty workspace dir and returns the job's pipeline.
// It honours ctx (a cancelled job stops its checkout). Errors end the job
// with status error; their text goes to the job's log, so it must say what
// went wrong for people (a narwhal.yml error lists file:line:column).
// Implementations are safe for concurrent use.
type Checkout interface {
	Checkout(ctx context.Context, dir string, job rpc.Job) (*pipeline.Pipeline, error)
}

// GitCheckout is the production Checkout: it clones the job's repository at
// its exact commit (with the job's clone token) and parses the narwhal.yml at
// its root. A clone the server refused for want of credentials ends the job
// with workspace.AuthError's reason.
type GitCheckout struct {
	// CAFile is workspace.CloneOptions.CAFile: the certificates git trusts
	// for https, "" for the system's (or the runner's GIT_SSL_CAINFO).
	CAFile string
}

var _ Checkout = GitCheckout{}

// Checkout implements Checkout.
func (c GitCheckout) Checkout(ctx context.Context, dir string, job rpc.Job) (*pipeline.Pipeline, error) {
	opts := workspace.CloneOptions{URL: job.CloneURL, SHA: job.SHA, Dir: dir, Token: job.CloneToken, Ref: job.Ref,
		CAFile: c.CAFile}
	err := workspace.Clone(ctx, opts)
	var auth *workspace.AuthError
	if errors.As(err, &auth) {
		return nil, err // the reason leads: it is what a person must act on
	}
	if err != nil {
		return nil, fmt.Errorf("clone %s at %s: %w", job.Repo, job.SHA, err)
	}
	return ParsePipeline(dir)
}

// ParsePipeline reads and parses dir's narwhal.yml; its errors name the file
// as narwhal.yml (not the workspace path) with line and column. It reads
// with pipeline.ReadFile: a narwhal.yml that is a symbolic link, not a
// regular file or larger than pipeline.MaxSize is refused (a
// *pipeline.FileError) without reading more than MaxSize+1 bytes.
func ParsePipeline(dir string) (*pipeline.Pipeline, error) {
	data, err := pipeline.ReadFile(filepath.Join(dir, PipelineFile), PipelineFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNoPipeline
	}
	if err != nil {
		return nil, err
	}
	// A parse error is already one "narwhal.yml:line:col: problem" per line.
	return pipeline.Parse(PipelineFile, data)
}

// errNoPipeline is the error of a repository without a narwhal.yml.
var errNoPipeline = errors.New("no " + PipelineFile + " at the root of the repository")

// firstLine shortens a multi-line message for a report's Error; the whole
// message is in the job's log.
func firstLine(s string) string {
	first, rest, ok := strings.Cut(strings.TrimRight(s, "\n"), "\n")
	if !ok {
		return first
	}
	return first + " (and " + strconv.Itoa(strings.Count(rest, "\n")+1) + " more in the log)"
}
