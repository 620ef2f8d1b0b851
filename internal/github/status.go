package github

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	gh "github.com/google/go-github/v57/github"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// DefaultHTTPTimeout bounds each request of a client from NewClient.
const DefaultHTTPTimeout = 30 * time.Second

// NewClient returns a GitHub API client that authenticates with token (none
// when empty) and talks to baseURL: empty means https://api.github.com/; for
// GitHub Enterprise Server pass its API root, e.g.
// "https://ghe.example.com/api/v3/" (used as given, no suffix is added), and
// for tests an httptest server's URL.
func NewClient(token, baseURL string) (*gh.Client, error) {
	c, err := NewClientWith(&http.Client{Timeout: DefaultHTTPTimeout}, baseURL)
	if err != nil || token == "" {
		return c, err
	}
	return c.WithAuthToken(token), nil
}

// NewClientWith is NewClient for an HTTP client of the caller's, one whose
// transport authenticates (a GitHub App's, see package ghauth).
func NewClientWith(hc *http.Client, baseURL string) (*gh.Client, error) {
	c := gh.NewClient(hc)
	if baseURL == "" {
		return c, nil
	}
	u, err := url.Parse(baseURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("github client: bad base URL %q", baseURL)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	c.BaseURL = u
	return c, nil
}

// Clients gives the API client to use for a repository ("owner/name"): one
// authenticated with that repository's token (a GitHub App's installation
// token, see package ghauth). It is safe for concurrent use.
type Clients interface {
	Client(ctx context.Context, repo string) (*gh.Client, error)
}

// SharedClient is Clients with one client for every repository.
type SharedClient struct{ C *gh.Client }

// Client returns the shared client.
func (s SharedClient) Client(context.Context, string) (*gh.Client, error) { return s.C, nil }

// PipelineNamer gives the name of a job's pipeline (narwhal.yml's name), ""
// for none. ConfigFetcher implements it.
type PipelineNamer interface {
	PipelineName(ctx context.Context, job ci.Job) (string, error)
}

// StatusOptions configures a StatusReporter.
type StatusOptions struct {
	// SelfURL is the base URL of narwhal's REST API: a status links to
	// SelfURL + "/jobs/" + job ID. Empty: statuses carry no link.
	SelfURL string
	// Names gives the pipeline name for the status context
	// "narwhal/<name>"; nil, or a pipeline without a name, gives
	// "narwhal/ci".
	Names PipelineNamer
}

// StatusReporter sets GitHub commit statuses for jobs (POST
// /repos/{owner}/{repo}/statuses/{sha}). It implements the dispatcher's
// StatusReporter: Report makes one attempt and returns its error; retrying
// and giving up are the caller's. It is safe for concurrent use.
type StatusReporter struct {
	clients Clients
	opts    StatusOptions
}

// NewStatusReporter returns a reporter that calls GitHub with each job's
// repository's client.
func NewStatusReporter(clients Clients, opts StatusOptions) *StatusReporter {
	opts.SelfURL = strings.TrimSuffix(opts.SelfURL, "/")
	return &StatusReporter{clients: clients, opts: opts}
}

// Report sets the commit status of job's SHA to the job's state. Jobs of
// repositories that are not on GitHub (a file:// or local clone URL) are
// skipped. Reporting the same state twice is harmless: GitHub keeps the
// latest status per context.
func (s *StatusReporter) Report(ctx context.Context, job ci.Job) error {
	if IsLocal(job.CloneURL) {
		return nil
	}
	owner, repo, ok := strings.Cut(job.Repo, "/")
	if !ok || owner == "" || repo == "" || job.SHA == "" {
		return fmt.Errorf("commit status of job %s: bad repository %q or SHA %q", job.ID, job.Repo, job.SHA)
	}
	name := ""
	if s.opts.Names != nil {
		var err error
		if name, err = s.opts.Names.PipelineName(ctx, job); err != nil {
			return fmt.Errorf("commit status of job %s: pipeline name: %w", job.ID, err)
		}
	}
	st := CommitStatus(job, name, s.opts.SelfURL)
	client, err := s.clients.Client(ctx, job.Repo)
	if err != nil {
		return fmt.Errorf("commit status of job %s: %w", job.ID, err)
	}
	if _, _, err := client.Repositories.CreateStatus(ctx, owner, repo, job.SHA, st); err != nil {
		return fmt.Errorf("commit status of job %s on %s@%.12s: %w", job.ID, job.Repo, job.SHA, err)
	}
	return nil
}

// MaxDescription is the longest description GitHub accepts, in characters.
const MaxDescription = 140

// CommitStatus is the status for job: state pending while the job is queued,
// assigned or running, then success, failure, or error (for error and
// cancelled); context "narwhal/<pipeline>" ("narwhal/ci" without a name); a
// description for people; the job's page under selfURL as target.
func CommitStatus(job ci.Job, pipeline, selfURL string) *gh.RepoStatus {
	if pipeline == "" {
		pipeline = "ci"
	}
	st := &gh.RepoStatus{
		State:       gh.String(statusState(job.Status)),
		Context:     gh.String("narwhal/" + pipeline),
		Description: gh.String(truncate(Describe(job), MaxDescription)),
	}
	if selfURL != "" {
		st.TargetURL = gh.String(selfURL + "/jobs/" + job.ID)
	}
	return st
}

func statusState(s ci.Status) string {
	switch s {
	case ci.StatusSuccess, ci.StatusSkipped:
		return "success"
	case ci.StatusFailure:
		return "failure"
	case ci.StatusError, ci.StatusCancelled:
		return "error"
	}
	return "pending"
}

// Describe says in a few words where job stands: "queued: all 2 matching
// runners busy", "running on runner-1", "succeeded in 42s".
func Describe(job ci.Job) string {
	switch job.Status {
	case ci.StatusQueued:
		return withReason("queued"+attempt(job), job.Waiting)
	case ci.StatusAssigned:
		return "assigned to " + job.RunnerID + attempt(job)
	case ci.StatusRunning:
		return "running on " + job.RunnerID + attempt(job)
	case ci.StatusSuccess:
		return "succeeded" + took(job)
	case ci.StatusFailure:
		return "failed" + took(job)
	case ci.StatusCancelled:
		if strings.HasPrefix(job.Error, "cancelled") {
			return job.Error
		}
		return withReason("cancelled", job.Error)
	}
	return withReason(string(job.Status), job.Error)
}

func withReason(what, why string) string {
	if why == "" {
		return what
	}
	return what + ": " + why
}

// attempt is " (attempt N)" for a requeued job, "" for the first attempt.
func attempt(job ci.Job) string {
	if job.Attempt <= 1 {
		return ""
	}
	return fmt.Sprintf(" (attempt %d)", job.Attempt)
}

// took is " in 42s" when the job's run time is known.
func took(job ci.Job) string {
	if job.StartedAt.IsZero() || job.FinishedAt.Before(job.StartedAt) {
		return ""
	}
	return " in " + job.FinishedAt.Sub(job.StartedAt).Round(time.Second).String()
}

// truncate shortens s to at most n characters, ending with "…" when cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
