// Package runner is the core of runnerd: a fixed number of job slots behind
// rpc.RunnerService. Each accepted job gets a workspace, a checkout of its
// commit and its narwhal.yml (Checkout), a run of the engine on the executor,
// a log shipper to the log store, and reports of every job and step state
// change, enqueued in order to a durable outbox. The package knows nothing of
// AWS, Lambda, RabbitMQ or the file system layout of runnerd: cmd runnerd
// wires those in through Deps.
package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/narwhal-ci/narwhal/internal/blob"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/engine"
	"github.com/narwhal-ci/narwhal/internal/executor"
	"github.com/narwhal-ci/narwhal/internal/logstore"
	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/snapshot"
)

// Defaults for the zero fields of Config.
const (
	DefaultHeartbeat    = 15 * time.Second
	DefaultDrainTimeout = 5 * time.Minute
	DefaultRemember     = 4096
	// ReportTimeout bounds one enqueue of a report to the outbox.
	ReportTimeout = 10 * time.Second
	// LogCloseTimeout bounds the flush of a job's log at its end.
	LogCloseTimeout = 30 * time.Second
)

// Config is what a Runner is. ID, Capacity and WorkDir are required.
type Config struct {
	ID string // the runner's name, in every report and label
	// Token is the runner's own bearer token (runnerkey.Token of its ID):
	// every report is signed with it (header runnerkey.Header). Without
	// one, reports go unsigned and a dispatcher drops them.
	Token    string
	Address  string   // host:port the dispatcher reaches the runner at, for reports
	Labels   []string // what jobs this runner takes (a job's labels must all be here)
	Capacity int      // job slots: how many jobs run at once (>= 1)
	// WorkDir is the root of the job workspaces. The runner owns it: at Start
	// every directory in it is removed, as a crash may have left it.
	WorkDir string
	// Heartbeat is the interval of heartbeat reports; 0 means DefaultHeartbeat.
	Heartbeat time.Duration
	// DrainTimeout is the deadline of Drain(0); 0 means DefaultDrainTimeout.
	DrainTimeout time.Duration
	// Remember is how many finished jobs are remembered to dedup a repeated
	// Run; 0 means DefaultRemember.
	Remember int
	Version  string // reported in Stats and heartbeats
	// Engine settings; zero values take the engine's defaults.
	JobTimeout  time.Duration
	MaxParallel int
	LogLimit    int64
}

// Reports is the durable outbox reports go to (an *outbox.Outbox): Enqueue
// stores a message on disk before it returns, and the outbox publishes them in
// order, retrying until the broker takes them.
type Reports interface {
	Enqueue(ctx context.Context, m ci.Message) error
	Pending() int
}

// Deps are the parts a Runner works with. Exec, Reports and Logs are
// required.
type Deps struct {
	Exec executor.Executor
	// Sweep removes what a crashed runner left in the executor (the Docker
	// executor's Sweep); nil when the executor leaves nothing behind.
	Sweep func(ctx context.Context) (int, error)
	// Reclaim makes everything under a workspace directory removable by the
	// runner's own user when a plain removal failed (steps that ran as root
	// in a container leave root-owned files); nil when the executor leaves
	// nothing the runner cannot remove. The Docker executor's Reclaim.
	Reclaim func(ctx context.Context, dir string) error
	// Reports receives every report, in order.
	Reports Reports
	// Logs stores each job's log, through a logstore.Shipper per job.
	Logs logstore.Store
	// Checkout fills a job's workspace and returns its pipeline; nil means
	// GitCheckout, the production path.
	Checkout Checkout
	// Snapshots keeps the workspace after each step that succeeds, for a
	// re-run from a later step (internal/snapshot), and gives it back to such
	// a re-run on any runner that shares the store; nil keeps none, and a
	// re-run from a step then ends in error saying so.
	Snapshots blob.Store
	// SnapshotLimits bound each snapshot; zero fields take the defaults.
	SnapshotLimits snapshot.Limits
	// SnapshotKeep: the runner deletes snapshots older than this from
	// Snapshots at Start and every SnapshotSweep. 0 means
	// DefaultSnapshotKeep; negative, never (an S3 lifecycle rule expires
	// them instead).
	SnapshotKeep time.Duration
	// Cache keeps the steps' caches (internal/cache), per repository, and
	// gives them to the jobs of the same repository on any runner that
	// shares the store; nil: caches are off (a job's step log says so once).
	Cache blob.Store
	// CacheMaxBytes caps each repository's cache entries together, least
	// recently used evicted first; 0 means cache.DefaultMaxBytes.
	CacheMaxBytes int64
	// Artifacts keeps the files steps upload (internal/artifact); nil:
	// artifacts are off (a step with artifacts says so in its log).
	Artifacts blob.Store
	// Logger receives the runner's logs; the caller attaches runner_id to
	// it, the runner adds job_id, repo, sha and attempt per job. nil: discard.
	Logger *slog.Logger
	// DiskStatus, when set, says how full the runner's disks are and, while
	// they are under pressure, why (a diskguard.Guard's Status): register
	// and heartbeat reports carry both, and Run refuses jobs under pressure.
	// Call DiskChanged when the pressure starts or ends. nil: reports say how
	// full the work dir's filesystem is, and never pressure.
	DiskStatus func() (usedPercent float64, pressure string)
}

// state is the runner's mutable settings and mode.
type state struct {
	labels   []string
	capacity int
	draining bool
	drainAt  time.Time
	closed   bool
}

// Runner runs jobs in slots. It implements rpc.RunnerService; all methods
// are safe for concurrent use.
type Runner struct {
	cfg      Config
	deps     Deps
	log      *slog.Logger
	eng      *engine.Engine
	reporter *reporter
	metrics  *metrics

	mu         sync.Mutex
	st         state
	active     map[string]*job // accepted and not yet torn down
	recent     *recent         // finished jobs, for dedup
	changed    chan struct{}   // closed and replaced when a job ends
	drainTimer *time.Timer

	stopBeat context.CancelFunc
	beatDone chan struct{}
}

var _ rpc.RunnerService = (*Runner)(nil)

// New checks cfg and deps and returns a Runner that accepts jobs at once;
// call Start to sweep leftovers and begin reporting before serving it.
func New(cfg Config, deps Deps) (*Runner, error) {
	if err := check(&cfg, &deps); err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	r := &Runner{
		cfg:     cfg,
		deps:    deps,
		log:     deps.Logger,
		st:      state{labels: slices.Clone(cfg.Labels), capacity: cfg.Capacity},
		active:  map[string]*job{},
		recent:  newRecent(cfg.Remember),
		changed: make(chan struct{}),
	}
	r.reporter = newReporter(cfg.ID, cfg.Token, deps.Reports, r.log)
	r.metrics = newMetrics(deps.Reports.Pending)
	r.metrics.slots.Set(float64(cfg.Capacity))
	r.eng = &engine.Engine{Exec: deps.Exec, Logger: deps.Logger, LogLimit: cfg.LogLimit,
		MaxParallel: cfg.MaxParallel, JobTimeout: cfg.JobTimeout}
	return r, nil
}

// check validates the required fields and fills in defaults.
func check(cfg *Config, deps *Deps) error {
	switch {
	case cfg.ID == "":
		return errors.New("config: no runner ID")
	case cfg.Capacity < 1:
		return fmt.Errorf("config: capacity %d, want at least 1", cfg.Capacity)
	case cfg.WorkDir == "":
		return errors.New("config: no work directory")
	case deps.Exec == nil || deps.Reports == nil || deps.Logs == nil:
		return errors.New("deps: executor, reports and logs are required")
	}
	cfg.Heartbeat = orDefault(cfg.Heartbeat, DefaultHeartbeat)
	cfg.DrainTimeout = orDefault(cfg.DrainTimeout, DefaultDrainTimeout)
	cfg.Remember = orDefault(cfg.Remember, DefaultRemember)
	if deps.Checkout == nil {
		deps.Checkout = GitCheckout{}
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Registry returns the Prometheus registry of the runner's metrics (not the
// global one); the caller may register more collectors on it and serve it.
func (r *Runner) Registry() *prometheus.Registry { return r.metrics.reg }

// Reload applies new labels and capacity (runnerd's SIGHUP). A capacity below
// the number of running jobs takes effect as they finish; capacity < 1 is an
// error.
func (r *Runner) Reload(labels []string, capacity int) error {
	if capacity < 1 {
		return fmt.Errorf("reload: capacity %d, want at least 1", capacity)
	}
	r.mu.Lock()
	r.st.labels, r.st.capacity = slices.Clone(labels), capacity
	r.mu.Unlock()
	r.metrics.slots.Set(float64(capacity))
	r.log.Info("runner settings reloaded", "labels", labels, "capacity", capacity)
	return nil
}

// full is the rejection reason when every slot is busy; r.mu is held.
func (r *Runner) full() string {
	return "runner full: " + strconv.Itoa(len(r.active)) + "/" + strconv.Itoa(r.st.capacity) + " slots busy"
}
