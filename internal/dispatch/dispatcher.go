// Package dispatch is the control plane's core: it schedules queued jobs onto
// the runner registry over the runner RPC contract, drives each job's
// lifecycle from the runners' reports, reports commit statuses, and runs the
// periodic monitor (lost runners, timeouts, the intake sweep, metrics). It
// sees neither AWS nor Lambda: functions/dispatcher feeds it deliveries and
// calls; `narwhal dev` does the same in one process. docs/dispatch.md tells
// the story.
package dispatch

import (
	"cmp"
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue"
	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/runnerkey"
	"github.com/narwhal-ci/narwhal/internal/secrets"
)

// Defaults of Config.
const (
	DefaultLease       = 45 * time.Second
	DefaultMaxAttempts = 3
	DefaultJobTimeout  = time.Hour
	DefaultWaitDelay   = 5 * time.Second
	DefaultRPCTimeout  = 10 * time.Second
)

// Defaults of the deadline of a running job whose runner reported its
// timeout (Config.TimeoutGrace, Config.MaxJobTimeout).
const (
	DefaultTimeoutGrace  = 10 * time.Minute
	DefaultMaxJobTimeout = 24 * time.Hour
)

// DefaultRPCPenalty is Config.RPCPenalty when it is zero.
const DefaultRPCPenalty = 2 * time.Minute

// DefaultSnapshotKeep is Config.SnapshotKeep when it is zero: as long as
// runnerd keeps them (runner.DefaultSnapshotKeep) and the S3 lifecycle rule.
const DefaultSnapshotKeep = 24 * time.Hour

// Config tunes a Dispatcher. Zero fields take the defaults.
type Config struct {
	// Lease: a runner silent for longer is offline. Default 45s (three
	// missed heartbeats of runnerd's 15s).
	Lease time.Duration
	// MaxAttempts: a job whose runner is lost on this attempt ends in error
	// instead of being requeued again. Default 3.
	MaxAttempts int
	// JobTimeout bounds, per attempt, how long a job may wait for a runner
	// (from CreatedAt), and how long a job may run (from StartedAt) until
	// its runner reports the job's own timeout (the pipeline's `timeout:`,
	// or the runner's default), which runnerd enforces itself; from then on
	// the job may run for that timeout plus TimeoutGrace, at most
	// MaxJobTimeout. It is the control plane's backstop. Default 1h.
	JobTimeout time.Duration
	// TimeoutGrace is added to a job's reported timeout for the monitor's
	// deadline: it covers the checkout before the runner's clock starts,
	// the teardown and the final report's way back. Default 10m.
	TimeoutGrace time.Duration
	// MaxJobTimeout caps the deadline of a running job whatever timeout its
	// runner reports; at least JobTimeout. Default DefaultMaxJobTimeout
	// (24h).
	MaxJobTimeout time.Duration
	// ReconcileGrace: an assigned or running job that its runner's heartbeat
	// does not list is requeued only when that heartbeat was sent more than
	// ReconcileGrace after the job's last change, so that a Run still under
	// way is not mistaken for a lost job. Keep it above RPCTimeout plus the
	// clock skew between runners and the dispatcher. Default
	// DefaultReconcileGrace (20s).
	ReconcileGrace time.Duration
	// WaitDelay is how long a job waits before it is offered to the runners
	// again when none took it. Default 5s.
	WaitDelay time.Duration
	// DeliveryLimit is the job queue's delivery limit (returns before a
	// message is dead-lettered, as in queue.DefaultDeliveryLimit, the
	// default): on the last delivery of a job message that keeps failing,
	// the job is marked error before the message goes to the dead letters.
	DeliveryLimit int
	// RPCTimeout bounds each Run, Cancel and Drain call to a runner, retries
	// included. Default 10s.
	RPCTimeout time.Duration
	// RPCPenalty: a runner to which a Run failed (unreachable, deadline
	// passed; a refusal is no failure) is offered jobs after every other
	// candidate for this long, so that a runner whose heartbeats arrive but
	// whose RPCs do not (a partition) does not cost every job an
	// RPCTimeout. A Run it accepts ends the penalty. Default
	// DefaultRPCPenalty (2m).
	RPCPenalty time.Duration
	// RegistryTTL is how long one read of the runner registry serves the
	// jobs placed after it (see registryReads): the copy is dropped sooner
	// when this dispatcher hears of a runner's change, and a job it has no
	// place for reads afresh. Negative reads the registry for every job.
	// Default DefaultRegistryTTL.
	RegistryTTL time.Duration
	// CancelSupersededPushes makes a new push job of a branch cancel the
	// older unfinished push jobs of that branch, for pipelines that do not
	// set cancel_superseded themselves. (Pull requests do it by default.)
	CancelSupersededPushes bool
	// FetchTimeout bounds reading a job's narwhal.yml (Deps.Config) and
	// minting its clone token (Deps.Credentials).
	// Default 10s.
	FetchTimeout time.Duration
	// SelfURL is the base URL of the REST API (https://ci.example.com):
	// JobURL(id) is SelfURL + "/jobs/" + id. Give the status reporter the
	// same value for its target URLs (github.StatusOptions.SelfURL).
	SelfURL string
	// RunnerKeys are the fleet keys (runnerkey.Fleet): a runner's report
	// counts only when it is signed with the token derived from one of them
	// for the reporting runner's ID; the first also derives the token the
	// default client Pool presents to each runner. Without keys every report
	// is dropped.
	RunnerKeys []string
	// RunnerCAPEM is the PEM certificates the default client Pool (when
	// Deps.Clients is nil) trusts for runners.
	RunnerCAPEM []byte
	// StatusAttempts, StatusBackoff and StatusTimeout bound each commit
	// status report: up to StatusAttempts tries (default 3), each within
	// StatusTimeout (default 5s), pausing StatusBackoff (default 250ms,
	// doubling) in between.
	StatusAttempts int
	StatusBackoff  time.Duration
	StatusTimeout  time.Duration
	// SnapshotKeep is how long after a job finished its workspace snapshots
	// are kept, so a re-run from a step is refused (ci.ErrNoSnapshot) once
	// they are gone. Default DefaultSnapshotKeep.
	SnapshotKeep time.Duration
}

func (c Config) withDefaults() Config {
	c.Lease = cmp.Or(c.Lease, DefaultLease)
	c.MaxAttempts = cmp.Or(c.MaxAttempts, DefaultMaxAttempts)
	c.JobTimeout = cmp.Or(c.JobTimeout, DefaultJobTimeout)
	c.TimeoutGrace = cmp.Or(c.TimeoutGrace, DefaultTimeoutGrace)
	c.MaxJobTimeout = max(cmp.Or(c.MaxJobTimeout, DefaultMaxJobTimeout), c.JobTimeout)
	c.ReconcileGrace = cmp.Or(c.ReconcileGrace, DefaultReconcileGrace)
	c.WaitDelay = cmp.Or(c.WaitDelay, DefaultWaitDelay)
	c.DeliveryLimit = cmp.Or(c.DeliveryLimit, queue.DefaultDeliveryLimit)
	c.RPCTimeout = cmp.Or(c.RPCTimeout, DefaultRPCTimeout)
	c.RPCPenalty = cmp.Or(c.RPCPenalty, DefaultRPCPenalty)
	c.RegistryTTL = cmp.Or(c.RegistryTTL, DefaultRegistryTTL)
	c.FetchTimeout = cmp.Or(c.FetchTimeout, DefaultRPCTimeout)
	c.SelfURL = strings.TrimSuffix(c.SelfURL, "/")
	c.StatusAttempts = cmp.Or(c.StatusAttempts, 3)
	c.StatusBackoff = cmp.Or(c.StatusBackoff, 250*time.Millisecond)
	c.StatusTimeout = cmp.Or(c.StatusTimeout, 5*time.Second)
	c.SnapshotKeep = cmp.Or(c.SnapshotKeep, DefaultSnapshotKeep)
	return c
}

// Clients gives the RPC client of a runner.
//
// Contract: Client returns a RunnerService that calls r (at r.Address); it
// may return the same one for every call with that address, and it must be
// safe for concurrent use. Release says the runner went away (offline, or
// moved to another address): later calls to Client for that address may
// dial again. Neither blocks on the network.
type Clients interface {
	Client(ctx context.Context, r ci.Runner) (rpc.RunnerService, error)
	Release(r ci.Runner)
}

// StatusReporter publishes a job's state where people look (a GitHub commit
// status). Report is called with the job as stored after each change that
// matters; it may be called again with the same state (redeliveries) and
// must tolerate that. Its errors never fail a job: the dispatcher retries a
// few times, logs, and goes on.
type StatusReporter interface {
	Report(ctx context.Context, job ci.Job) error
}

// ConfigFetcher reads the labels a job's narwhal.yml asks for (its
// pipeline's Labels) at the job's SHA. A missing or invalid narwhal.yml gives
// no labels and no error (the runner reports the problem as the job's error);
// an error means the file could not be read now and may be later.
type ConfigFetcher interface {
	Labels(ctx context.Context, job ci.Job) ([]string, error)
}

// SecretNamer reads the secret names the steps of a job's narwhal.yml ask
// for, at the job's SHA (github.ConfigFetcher is one); errors as for
// ConfigFetcher: a missing or invalid file names none, an error means it
// could not be read now.
type SecretNamer interface {
	SecretNames(ctx context.Context, job ci.Job) ([]string, error)
}

// SecretSource resolves a repository's secrets and registry credentials
// (*secrets.Store is one). A repository with none gives an empty Resolved;
// an error matching secrets.ErrInvalid (a repository name the store does
// not accept) means it cannot have any; other errors may pass.
type SecretSource interface {
	Resolve(ctx context.Context, repo string) (secrets.Resolved, error)
}

// Deps are what a Dispatcher works with. Store and Queue are required.
type Deps struct {
	Store ci.Store
	Queue ci.Queue
	// Clients reaches runners; nil means a Pool from Config.RunnerCAPEM and
	// Config.RunnerKeys.
	Clients Clients
	// Status reports commit statuses; nil reports nothing.
	Status StatusReporter
	// Config resolves a job's labels; nil keeps the labels a job has.
	Config ConfigFetcher
	// Secrets and SecretNames give a job, when it is handed to a runner, the
	// secrets its steps name and the repository's registry credentials (see
	// grantFor); a nil Secrets gives none, a nil SecretNames no secrets.
	Secrets     SecretSource
	SecretNames SecretNamer
	// Credentials mints each job's clone token when it is handed to a
	// runner; nil sends none (public repositories only).
	Credentials CloneCredentials
	// Filter says whether a job's pipeline runs for it (when: branch,
	// event, ref, path); nil runs every job.
	Filter PipelineFilter
	// Selector picks runners; nil means LeastLoaded with Config.Lease,
	// Config.RPCPenalty and an Affinity.
	Selector Selector
	// Sweep is run by Monitor to republish jobs whose publish was lost
	// (e.g. func(ctx) (int, error) { return in.Sweep(ctx, time.Minute) });
	// nil skips it.
	Sweep func(ctx context.Context) (int, error)
	// SweepArtifacts is run by Monitor to delete the artifacts expired at
	// now (the monitor's clock) from the artifact store and return how many
	// it deleted (e.g. func(ctx, now) { return artifact.SweepExpired(ctx,
	// store, now) }); nil skips it.
	SweepArtifacts func(ctx context.Context, now time.Time) (int, error)
	// Changed, when set, is told of every job change the dispatcher writes
	// that a commit status would show (queued, waiting, running, final), in
	// the order of the changes, before the StatusReporter; it must be quick
	// and must not fail (`narwhal dev` feeds its metrics from it).
	Changed func(ctx context.Context, job ci.Job)
	// Logger defaults to slog.Default; Now to time.Now.
	Logger *slog.Logger
	Now    func() time.Time
}

// Dispatcher schedules jobs and keeps their state; see the package
// documentation. It is safe for concurrent use: every change goes through a
// conditional write in the Store, so several dispatchers (Lambda instances)
// may run at once.
type Dispatcher struct {
	cfg      Config
	fleet    runnerkey.Fleet
	store    ci.Store
	queue    ci.Queue
	clients  Clients
	status   StatusReporter
	config   ConfigFetcher
	secrets  SecretSource
	names    SecretNamer
	creds    CloneCredentials
	filter   PipelineFilter
	selector Selector
	sweep    func(ctx context.Context) (int, error)
	sweepArt func(ctx context.Context, now time.Time) (int, error)
	changed  func(ctx context.Context, job ci.Job)
	tally    *tally
	reads    registryReads
	order    statusOrder
	log      *slog.Logger
	now      func() time.Time
}

// New returns a Dispatcher. It does not touch the network.
func New(cfg Config, deps Deps) *Dispatcher {
	cfg = cfg.withDefaults()
	d := &Dispatcher{cfg: cfg, fleet: runnerkey.Fleet(cfg.RunnerKeys), store: deps.Store, queue: deps.Queue, clients: deps.Clients,
		status: deps.Status, config: deps.Config, secrets: deps.Secrets, names: deps.SecretNames,
		creds: deps.Credentials, filter: deps.Filter, selector: deps.Selector, sweep: deps.Sweep,
		sweepArt: deps.SweepArtifacts,
		changed:  deps.Changed, log: deps.Logger, now: deps.Now}
	d.tally = newTally(d.writeLoad)
	if d.clients == nil {
		d.clients = NewPool(rpc.ClientConfig{CAPEM: cfg.RunnerCAPEM}, d.fleet)
	}
	if d.selector == nil {
		d.selector = &LeastLoaded{Lease: cfg.Lease, Penalty: cfg.RPCPenalty, Affinity: NewAffinity(0)}
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	if d.now == nil {
		d.now = time.Now
	}
	return d
}

// JobURL is the address of job id's page in the REST API, "" without a
// Config.SelfURL.
func (d *Dispatcher) JobURL(id string) string {
	if d.cfg.SelfURL == "" {
		return ""
	}
	return d.cfg.SelfURL + "/jobs/" + id
}

// recorder is what a Selector implements to learn where jobs went.
type recorder interface{ Ran(repo, runnerID string) }
