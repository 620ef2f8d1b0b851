package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	gh "github.com/google/go-github/v57/github"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/pipeline"
)

// PipelineFile is the pipeline file at the root of a repository.
const PipelineFile = "narwhal.yml"

// PipelineConfig is what the control plane reads of a job's narwhal.yml
// before a runner has it: the pipeline's name (the commit status context),
// labels (runner selection), the secrets its steps name (what the
// dispatcher sends with the job), its when filter (whether it runs at all)
// and cancel_superseded.
type PipelineConfig struct {
	Name             string
	Labels           []string
	Secrets          []string // sorted, each once
	When             pipeline.When
	CancelSuperseded *bool
	Paths            bool // the pipeline or a step filters on paths
}

// ConfigFetcher reads narwhal.yml at a job's SHA: through the contents API
// (GET /repos/{owner}/{repo}/contents/narwhal.yml?ref=<sha>) for
// repositories on GitHub, with git (ls-tree, then cat-file of the blob) for
// file:// and local clone URLs. It implements the dispatcher's
// ConfigFetcher (Labels), SecretNamer (SecretNames) and PipelineFilter
// (Changes, Skip, CancelSuperseded), and the StatusReporter's PipelineNamer.
//
// A missing file, one that does not parse, one that is a symbolic link, not a
// regular file or larger than pipeline.MaxSize (never read beyond that), a
// local repository or SHA that git cannot show, and a remote repository
// without a client all give an empty PipelineConfig and no error: the runner meets the same problem when it
// clones and reports it as the job's error. An error means GitHub could not
// be asked now (network, 5xx, rate limit) and a later try may work.
//
// The content at a SHA never changes, so results are cached by clone URL and
// SHA (the last CacheSize of them). It is safe for concurrent use.
type ConfigFetcher struct {
	clients Clients

	mu    sync.Mutex
	cache map[string]PipelineConfig
	order []string
}

var _ PipelineNamer = (*ConfigFetcher)(nil)

// CacheSize is how many (clone URL, SHA) results a ConfigFetcher keeps.
const CacheSize = 256

// NewConfigFetcher returns a fetcher that asks GitHub through each job's
// repository's client; with nil Clients it reads local repositories only.
func NewConfigFetcher(clients Clients) *ConfigFetcher {
	return &ConfigFetcher{clients: clients, cache: map[string]PipelineConfig{}}
}

// Labels returns the labels of job's pipeline.
func (f *ConfigFetcher) Labels(ctx context.Context, job ci.Job) ([]string, error) {
	cfg, err := f.Fetch(ctx, job)
	return cfg.Labels, err
}

// SecretNames returns the secret names the steps of job's pipeline ask for.
func (f *ConfigFetcher) SecretNames(ctx context.Context, job ci.Job) ([]string, error) {
	cfg, err := f.Fetch(ctx, job)
	return cfg.Secrets, err
}

// Reasons Skip gives.
const (
	SkipNoPaths = "no matching paths"
	SkipNoMatch = "when does not match the branch, event or ref"
)

// Skip says why job's pipeline does not run for it: SkipNoPaths when its
// when.path matches none of the changed files (ChangedFiles), SkipNoMatch
// when its branch, event or ref filter does not match; "" when it runs (a
// pipeline that cannot be read runs, and the runner reports why).
func (f *ConfigFetcher) Skip(ctx context.Context, job ci.Job) (string, error) {
	cfg, err := f.Fetch(ctx, job)
	if err != nil {
		return "", err
	}
	b := pipeline.Build{Branch: job.Branch, Event: string(job.Event), Ref: job.Ref}
	if !cfg.When.Match(b) {
		return SkipNoMatch, nil
	}
	if cfg.When.Path == nil {
		return "", nil
	}
	if b.Files, b.FilesKnown, err = f.ChangedFiles(ctx, job); err != nil {
		return "", err
	}
	if !cfg.When.Match(b) {
		return SkipNoPaths, nil
	}
	return "", nil
}

// Changes returns job.Changes, completed by ChangedFiles when they are not
// known and the pipeline or one of its steps filters on paths (so the
// runner can apply the steps' filters); otherwise as they are.
func (f *ConfigFetcher) Changes(ctx context.Context, job ci.Job) (ci.Changes, error) {
	if job.Changes.Known {
		return job.Changes, nil
	}
	cfg, err := f.Fetch(ctx, job)
	if err != nil || !cfg.Paths {
		return job.Changes, err
	}
	files, known, err := f.ChangedFiles(ctx, job)
	if err != nil {
		return job.Changes, err
	}
	return ci.NewChanges(job.Changes.Base, files, known), nil
}

// CancelSuperseded returns the cancel_superseded of job's pipeline, nil
// when it sets none.
func (f *ConfigFetcher) CancelSuperseded(ctx context.Context, job ci.Job) (*bool, error) {
	cfg, err := f.Fetch(ctx, job)
	return cfg.CancelSuperseded, err
}

// PipelineName returns the name of job's pipeline, "" when it has none.
func (f *ConfigFetcher) PipelineName(ctx context.Context, job ci.Job) (string, error) {
	cfg, err := f.Fetch(ctx, job)
	return cfg.Name, err
}

// Fetch returns the PipelineConfig of job's narwhal.yml; see ConfigFetcher.
func (f *ConfigFetcher) Fetch(ctx context.Context, job ci.Job) (PipelineConfig, error) {
	key := job.CloneURL + "@" + job.SHA
	if cfg, ok := f.cached(key); ok {
		return cfg, nil
	}
	var data []byte
	var err error
	if IsLocal(job.CloneURL) {
		data, err = readGit(ctx, localPath(job.CloneURL), job.SHA)
	} else {
		data, err = f.readContents(ctx, job)
	}
	var fileErr *pipeline.FileError
	if errors.As(err, &fileErr) {
		data, err = nil, nil // a link or too large: the runner ends the job with this error
	}
	if err != nil {
		return PipelineConfig{}, fmt.Errorf("read %s of %s@%.12s: %w", PipelineFile, job.Repo, job.SHA, err)
	}
	cfg := parseConfig(data)
	f.remember(key, cfg)
	return cfg, nil
}

// parseConfig is the PipelineConfig of a narwhal.yml, empty when there is
// none or it does not parse.
func parseConfig(data []byte) PipelineConfig {
	if data == nil {
		return PipelineConfig{}
	}
	pl, err := pipeline.Parse(PipelineFile, data)
	if err != nil {
		return PipelineConfig{}
	}
	var names []string
	for _, st := range pl.Steps {
		names = append(names, st.Secrets...)
	}
	slices.Sort(names)
	return PipelineConfig{Name: pl.Name, Labels: pl.Labels, Secrets: slices.Compact(names), When: pl.When,
		CancelSuperseded: pl.CancelSuperseded,
		Paths:            pl.When.Path != nil || slices.ContainsFunc(pl.Steps, func(s pipeline.Step) bool { return s.When.Path != nil })}
}

// readContents reads narwhal.yml through the contents API; nil data means
// there is none to read.
func (f *ConfigFetcher) readContents(ctx context.Context, job ci.Job) ([]byte, error) {
	owner, repo, ok := strings.Cut(job.Repo, "/")
	if f.clients == nil || !ok {
		return nil, nil
	}
	client, err := f.clients.Client(ctx, job.Repo)
	if err != nil {
		return nil, err
	}
	file, _, _, err := client.Repositories.GetContents(ctx, owner, repo, PipelineFile,
		&gh.RepositoryContentGetOptions{Ref: job.SHA})
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if file == nil {
		return nil, &pipeline.FileError{Name: PipelineFile, Err: pipeline.ErrNotRegular} // a directory
	}
	if err := contentsError(file); err != nil {
		return nil, err
	}
	content, err := file.GetContent()
	if err != nil {
		return nil, nil // an encoding the API uses for large files: the runner will say so
	}
	if len(content) > pipeline.MaxSize {
		return nil, &pipeline.FileError{Name: PipelineFile, Err: pipeline.ErrTooLarge}
	}
	return []byte(content), nil
}

// contentsError is the *pipeline.FileError of a contents API answer that is
// not narwhal.yml as a regular file of at most pipeline.MaxSize bytes: a
// symbolic link (type "symlink", or the file a link in the repository points
// to, which the API answers under the target's path), a submodule, or a
// larger file.
func contentsError(file *gh.RepositoryContent) error {
	switch {
	case file.GetType() == "symlink" || file.GetPath() != PipelineFile:
		return &pipeline.FileError{Name: PipelineFile, Err: pipeline.ErrSymlink}
	case file.GetType() != "file":
		return &pipeline.FileError{Name: PipelineFile, Err: pipeline.ErrNotRegular}
	case file.GetSize() > pipeline.MaxSize:
		return &pipeline.FileError{Name: PipelineFile, Err: pipeline.ErrTooLarge}
	}
	return nil
}

// IsLocal reports whether cloneURL names a repository on this machine (a
// file:// URL or a path) rather than one on a server.
func IsLocal(cloneURL string) bool {
	if strings.HasPrefix(cloneURL, "file://") {
		return true
	}
	return !strings.Contains(cloneURL, "://") && !strings.Contains(cloneURL, "@")
}

// localPath is the directory of a local clone URL.
func localPath(cloneURL string) string {
	if u, err := url.Parse(cloneURL); err == nil && u.Scheme == "file" {
		return u.Path
	}
	return cloneURL
}

func (f *ConfigFetcher) cached(key string) (PipelineConfig, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cfg, ok := f.cache[key]
	return cfg, ok
}

// remember caches cfg under key, dropping the oldest beyond CacheSize.
func (f *ConfigFetcher) remember(key string, cfg PipelineConfig) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.cache[key]; !ok {
		f.order = append(f.order, key)
	}
	f.cache[key] = cfg
	for len(f.order) > CacheSize {
		delete(f.cache, f.order[0])
		f.order = f.order[1:]
	}
}
