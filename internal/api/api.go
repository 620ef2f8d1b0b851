// Package api is the dispatcher's REST API as a plain net/http handler: jobs,
// their logs, resubmit and cancel, runners and drain, stats and a health
// check, and the jobs' artifacts. It knows nothing of Lambda or API Gateway: functions/dispatcher puts
// it behind internal/lambdahttp, and `narwhal dev` serves it directly.
//
// Every endpoint is built from exactly the dependencies it uses, each a small
// interface declared here; docs/api.md is the HTTP contract (routes,
// statuses, auth, pagination, log following).
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// JobReader reads jobs; every ci.Store is one. GetJob returns an error
// matching ci.ErrNotFound for an unknown ID; ListJobs follows the ci.Store
// contract and fails with an error matching store.ErrBadCursor for a cursor
// it did not make.
type JobReader interface {
	GetJob(ctx context.Context, id string) (ci.Job, error)
	ListJobs(ctx context.Context, f ci.JobFilter) (ci.JobPage, error)
}

// RunnerLister lists the registered runners; every ci.Store is one.
type RunnerLister interface {
	ListRunners(ctx context.Context) ([]ci.Runner, error)
}

// Operations are the job and runner actions of the API; the dispatcher
// (internal/dispatch) implements them. The API maps their errors to statuses:
//   - an error matching ci.ErrNotFound: no such job or runner → 404;
//   - ci.ErrIllegalTransition: the state machine refuses (cancel of a job
//     that already finished, resubmit that the dispatcher does not allow) → 409;
//     a Cancel that refuses should return the job as it is beside the error,
//     so the answer can say in which state it ended;
//   - ci.ErrConflict: the record kept changing under the write → 409;
//   - ci.ErrClosed → 503; anything else → 500.
//
// Cancel returns the job as it is after the cancel. Resubmit returns the new
// job (ParentID set to id); with fromStep it re-runs id from that step, and
// refuses with errors matching ci.ErrCannotResume or ci.ErrNoSnapshot → 409. Drain marks the runner draining (it takes no new
// jobs and stops when its running jobs end) and is idempotent. All are safe
// for concurrent use and honour ctx.
type Operations interface {
	Cancel(ctx context.Context, id string) (ci.Job, error)
	Resubmit(ctx context.Context, id, fromStep string) (ci.Job, error)
	Drain(ctx context.Context, runnerID string) error
}

// LogReader reads job logs; every logstore.Store is one. Read returns up to
// limit bytes from offset, complete when the log is finished and the read
// reached its end, and an error matching ci.ErrNotFound while the job has no
// log yet.
type LogReader interface {
	Read(ctx context.Context, jobID string, offset int64, limit int) (data []byte, complete bool, err error)
}

// QueueDepth reports how many messages wait in a queue (ci.QueueJobs). It is
// optional: a queue without it leaves the depth out of /stats.
type QueueDepth interface {
	Depth(ctx context.Context, queue string) (int, error)
}

// Defaults of Deps.
const (
	// DefaultFollowWait is how long ?follow=1 waits for new log data: below
	// API Gateway's 30 s integration timeout.
	DefaultFollowWait = 25 * time.Second
	// DefaultFollowPoll is how often a follow re-reads the log store.
	DefaultFollowPoll = time.Second
	// DefaultStatsWindow is how many recent jobs /stats looks at.
	DefaultStatsWindow = 200
)

// Deps are what the API uses. A nil Jobs, Runners, Ops, Logs or Secrets
// makes the endpoints that need it answer 501; Queue is optional.
type Deps struct {
	Jobs    JobReader
	Runners RunnerLister
	Ops     Operations
	Logs    LogReader
	Queue   QueueDepth
	Secrets SecretStore
	// Artifacts is where the runners keep the jobs' artifacts (a
	// blob.Store). Optional: without it the artifacts are still listed, and
	// a download answers 501 saying that artifacts are not configured.
	Artifacts ArtifactReader

	// Tokens are the accepted bearer tokens (empty strings are ignored).
	// Without any, every authenticated route answers 401 unless Insecure.
	Tokens []string
	// Insecure turns authentication off: for `narwhal dev` on loopback only.
	Insecure bool

	// Logger gets one line per request; nil means slog.Default().
	Logger *slog.Logger
	// FollowWait and FollowPoll tune ?follow=1 (DefaultFollowWait and
	// DefaultFollowPoll when zero); tests shorten them.
	FollowWait, FollowPoll time.Duration
	// StatsWindow is how many recent jobs /stats looks at (at most 200).
	StatsWindow int
}

func (d Deps) withDefaults() Deps {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.FollowWait <= 0 {
		d.FollowWait = DefaultFollowWait
	}
	if d.FollowPoll <= 0 {
		d.FollowPoll = DefaultFollowPoll
	}
	if d.StatsWindow <= 0 || d.StatsWindow > DefaultStatsWindow {
		d.StatsWindow = DefaultStatsWindow
	}
	return d
}

// New returns the API handler. It is safe for concurrent use.
func New(deps Deps) http.Handler {
	d := deps.withDefaults()
	mux := http.NewServeMux()
	mux.Handle("GET /jobs", need(listJobs(d.Jobs), d.Jobs))
	mux.Handle("GET /jobs/{id}", need(getJob(d.Jobs), d.Jobs))
	mux.Handle("GET /jobs/{id}/logs", need(jobLogs(d.Jobs, d.Logs, followConfig{d.FollowWait, d.FollowPoll}), d.Jobs, d.Logs))
	mux.Handle("GET /jobs/{id}/artifacts", need(listArtifacts(d.Jobs), d.Jobs))
	mux.Handle("GET /jobs/{id}/artifacts/{name...}", need(downloadArtifact(d.Jobs, d.Artifacts), d.Jobs))
	mux.Handle("POST /jobs/{id}/resubmit", need(resubmit(d.Jobs, d.Ops), d.Jobs, d.Ops))
	mux.Handle("POST /jobs/{id}/cancel", need(cancel(d.Ops), d.Ops))
	mux.Handle("GET /runners", need(listRunners(d.Runners), d.Runners))
	mux.Handle("POST /runners/{id}/drain", need(drain(d.Ops), d.Ops))
	mux.Handle("GET /stats", need(stats(d.Jobs, d.Runners, d.Queue, d.StatsWindow), d.Jobs, d.Runners))
	secretRoutes(mux, d.Secrets)

	public := http.NewServeMux()
	public.Handle("GET /healthz", healthz())

	auth := newAuth(d.Tokens, d.Insecure)
	return logged(d.Logger, split(withJSONFallback(public), auth.wrap(withJSONFallback(mux))))
}

// split sends /healthz to public and everything else to private.
func split(public, private http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			public.ServeHTTP(w, r)
			return
		}
		private.ServeHTTP(w, r)
	})
}

// need answers 501 instead of calling h when a dependency of h is missing.
func need(h http.Handler, deps ...any) http.Handler {
	for _, d := range deps {
		if d == nil {
			return apiFunc(func(*http.Request) (reply, error) {
				return reply{}, fail(http.StatusNotImplemented, "not available in this deployment", nil)
			})
		}
	}
	return h
}

// HealthBody is the answer of GET /healthz.
type HealthBody struct {
	OK bool `json:"ok"`
}

func healthz() http.Handler {
	return apiFunc(func(*http.Request) (reply, error) {
		return reply{status: http.StatusOK, body: HealthBody{OK: true}}, nil
	})
}
