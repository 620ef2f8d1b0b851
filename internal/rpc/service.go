package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// RunnerService is what a runner does for the dispatcher. runnerd implements
// it and serves it with NewServer; Client implements it by calling a runner.
//
// Contract, for every implementation:
//   - All methods are safe for concurrent use and may be called in any order.
//   - Run returns as soon as the runner has accepted or rejected the job, not
//     when the job finishes; the job runs on past the call (its context is not
//     ctx). A rejection is not an error: accepted is false and reason says why
//     (full, draining, labels do not match). Run is idempotent by job ID: a
//     job the runner holds (running, or finished recently with the same
//     attempt) is accepted again without a second run. The server must dedup:
//     the client retries Run on Unavailable and DeadlineExceeded.
//   - Cancel stops a job the runner holds and returns once the stop has begun.
//     Cancelling a finished job is a no-op; a job the runner never had gives
//     an error matching ci.ErrNotFound.
//   - Drain makes the runner reject new jobs (and report NOT_SERVING on the
//     health service) and gives the running jobs until deadline to finish
//     before cancelling them; deadline 0 means the runner's default. It
//     returns once draining has begun. A second Drain may shorten the deadline.
//   - Stats reports the runner's identity and load; it has no side effects.
//   - Errors: ErrInvalidJob for a malformed job, ci.ErrNotFound for an unknown
//     job, ci.ErrClosed when the runner is shutting down; anything else is an
//     internal error. Context errors mean ctx ended.
type RunnerService interface {
	Run(ctx context.Context, job Job) (accepted bool, reason string, err error)
	Cancel(ctx context.Context, jobID string) error
	Drain(ctx context.Context, deadline time.Duration) error
	Stats(ctx context.Context) (Stats, error)
}

// ErrInvalidJob says a Job is missing what a runner needs, or carries
// registry credentials for a fork. Client.Run returns it before sending; the server answers
// InvalidArgument.
var ErrInvalidJob = errors.New("invalid job")

// Job is the work a Run call carries: what to check out and what the job
// may use. Its LogValue leaves out the secrets and the clone token.
type Job struct {
	ID       string
	Attempt  int // 1 for the first run, +1 per requeue
	Repo     string
	CloneURL string
	SHA      string
	Ref      string
	Branch   string
	Event    ci.Event
	PR       int
	Fork     bool
	Labels   []string
	// Secrets are secret values by name; a fork job carries only those that
	// allow pull requests (JobFromCI sees to it).
	Secrets map[string]string
	// CloneToken authorises the clone; empty for public repositories.
	CloneToken string
	// Withheld names the secrets the job's steps ask for that exist but that
	// a fork job does not get; a step naming one fails saying so.
	Withheld []string
	// Registries are the credentials for pulling images, one per registry
	// host; a fork job carries none (Validate refuses it).
	Registries []RegistryAuth
	// Resume, for a re-run from a step: restore its snapshot instead of
	// cloning, and do not run its done steps again.
	Resume *ci.Resume
	// ChangedFiles are the files the push or pull request changed, for the
	// steps' when.path, when ChangedKnown (ci.Changes).
	ChangedFiles []string
	ChangedKnown bool
}

// Secret is a secret's value and whether jobs of fork pull requests may
// have it.
type Secret struct {
	Value             string
	AllowPullRequests bool
}

// RegistryAuth is a registry host's username and password.
type RegistryAuth struct {
	Host     string // host[:port], as image references name it
	Username string
	Password string
}

// JobFromCI builds the Run payload for a stored job, with the secrets its
// steps name. For a fork job, a secret that does not allow pull requests is
// never sent, whatever the caller passed: its name goes to Withheld instead.
func JobFromCI(j ci.Job, secrets map[string]Secret, cloneToken string) Job {
	out := Job{
		ID: j.ID, Attempt: j.Attempt, Repo: j.Repo, CloneURL: j.CloneURL, SHA: j.SHA,
		Ref: j.Ref, Branch: j.Branch, Event: j.Event, PR: j.PR, Fork: j.Fork,
		Labels: j.Labels, CloneToken: cloneToken, Resume: j.Resume,
		ChangedFiles: j.Changes.Files, ChangedKnown: j.Changes.Known,
	}
	for _, name := range slices.Sorted(maps.Keys(secrets)) {
		s := secrets[name]
		if j.Fork && !s.AllowPullRequests {
			out.Withheld = append(out.Withheld, name)
			continue
		}
		if out.Secrets == nil {
			out.Secrets = map[string]string{}
		}
		out.Secrets[name] = s.Value
	}
	return out
}

// LogValue implements slog.LogValuer: the job without secret values or the
// clone token, so a logged Job leaks nothing.
func (j Job) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("job_id", j.ID), slog.Int("attempt", j.Attempt),
		slog.String("repo", j.Repo), slog.String("sha", j.SHA),
		slog.String("ref", j.Ref), slog.String("event", string(j.Event)),
		slog.Bool("fork", j.Fork), slog.Int("secrets", len(j.Secrets)),
		slog.Int("withheld", len(j.Withheld)), slog.Int("registries", len(j.Registries)),
	)
}

// Validate returns an error matching ErrInvalidJob when the job lacks an ID,
// clone URL or SHA, has a negative attempt, is a fork carrying registry
// credentials, or names a secret both given and withheld.
func (j Job) Validate() error {
	var why string
	switch {
	case j.ID == "":
		why = "no job ID"
	case j.CloneURL == "":
		why = "no clone URL"
	case j.SHA == "":
		why = "no SHA"
	case j.Attempt < 0:
		why = "negative attempt"
	case j.Fork && len(j.Registries) > 0:
		why = "registry credentials for a fork"
	case slices.ContainsFunc(j.Withheld, func(n string) bool { _, ok := j.Secrets[n]; return ok }):
		why = "a secret both given and withheld"
	default:
		return nil
	}
	return fmt.Errorf("%w %s: %s", ErrInvalidJob, j.ID, why)
}

// Stats is a runner's identity and load, as Stats reports it.
type Stats struct {
	RunnerID      string
	Capacity      int      // job slots: how many jobs run at once
	Running       []string // IDs of the jobs running now
	LoadAverage   float64  // the host's 1-minute load average
	FreeDiskBytes int64    // free bytes on the workspace filesystem
	Labels        []string
	State         ci.RunnerState // ci.RunnerActive or ci.RunnerDraining
	Version       string
}
