// Package devstack is `narwhal dev`: the whole system in one process on
// embedded defaults. It wires the parts that run separately in production:
// the agent's webhook handler (behind the same API Gateway translation
// Lambda sees), the dispatcher's REST API, the dashboard (internal/web) and
// Prometheus metrics on one HTTP server; the SQLite store (or DynamoDB); the
// in-memory queue (or RabbitMQ); the dispatcher's consumers and monitor; N
// runners, each a runner.Runner behind a real gRPC server with TLS and a
// token on a loopback port, reporting through a durable outbox into the
// queue; the file system log store; and one file system blob store of the
// workspace snapshots, the caches and the artifacts, which the runners write
// and the API and the monitor's artifact sweep read. docs/dev.md is the
// user's guide.
package devstack

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/narwhal-ci/narwhal/internal/blob"
	blobfs "github.com/narwhal-ci/narwhal/internal/blob/fs"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/dispatch"
	"github.com/narwhal-ci/narwhal/internal/executor"
	"github.com/narwhal-ci/narwhal/internal/intake"
	"github.com/narwhal-ci/narwhal/internal/logstore/fs"
	rsecrets "github.com/narwhal-ci/narwhal/internal/secrets"
)

// Config is what `narwhal dev` runs. Zero fields take the defaults below.
type Config struct {
	Addr        string // HTTP listen address; default ":8080"
	Dir         string // state directory; default ".narwhal"
	Runners     int    // runner instances; default 2
	Capacity    int    // job slots per runner; default 2
	RunnerName  string // runners are <RunnerName>-1, -2, ...; default "dev-<tag>" (see runnerTag)
	Executor    string // auto (default), docker or host
	AMQPURL     string // RabbitMQ instead of the in-memory queue
	AMQPPrefix  string // prefix of the RabbitMQ exchange and queue names
	AWSEndpoint string // DynamoDB (moto, LocalStack) instead of SQLite
	Table       string // the DynamoDB table; default DefaultTable
	Version     string // reported by the runners
	Logger      *slog.Logger

	// GitHub gives the clone credentials of private repositories; none by
	// default (public and local repositories only).
	GitHub GitHubConfig
	// GitCAFile is a PEM file of the certificates the runners' git trusts
	// for https clones instead of the system's (--git-ca-file).
	GitCAFile string

	// Exec, when set, is the executor of every runner instead of the one
	// Executor names (tests use the fake executor).
	Exec executor.Executor
	// Heartbeat is the runners' heartbeat interval; default 5s.
	Heartbeat time.Duration
	// MonitorEvery is the interval of the dispatcher's monitor and the intake
	// sweep; default 5s.
	MonitorEvery time.Duration
	// ReadTimeout bounds how long a client may take to send a request's
	// headers and body; default DefaultReadTimeout (timeouts.go).
	ReadTimeout time.Duration
	// WebhookSecretFiles name files of further webhook secrets accepted,
	// one a line (the rotation's old secret), beside the state directory's.
	WebhookSecretFiles []string
	// CancelSupersededPushes: a new push cancels the older unfinished push
	// jobs of its branch (dispatch.Config.CancelSupersededPushes).
	CancelSupersededPushes bool
	// CacheMaxBytes is the size each repository's caches may take in the
	// state directory's blob store before the least recently used are
	// evicted (--cache-max-bytes); default DefaultCacheMaxBytes.
	CacheMaxBytes int64
}

// DefaultCacheMaxBytes is Config.CacheMaxBytes's default.
const DefaultCacheMaxBytes = 2 << 30

func (c Config) withDefaults() Config {
	c.Addr = cmp.Or(c.Addr, ":8080")
	c.Dir = cmp.Or(c.Dir, ".narwhal")
	c.Runners = cmp.Or(c.Runners, 2)
	c.Capacity = cmp.Or(c.Capacity, 2)
	c.Executor = cmp.Or(c.Executor, ExecAuto)
	c.Table = cmp.Or(c.Table, DefaultTable)
	c.Version = cmp.Or(c.Version, "dev")
	c.Heartbeat = cmp.Or(c.Heartbeat, 5*time.Second)
	c.MonitorEvery = cmp.Or(c.MonitorEvery, 5*time.Second)
	c.ReadTimeout = cmp.Or(c.ReadTimeout, DefaultReadTimeout)
	c.CacheMaxBytes = cmp.Or(c.CacheMaxBytes, DefaultCacheMaxBytes)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Stack is a running dev system. Its methods are safe for concurrent use.
type Stack struct {
	cfg     Config
	log     *slog.Logger
	sec     secrets
	store   ci.Store
	vault   *rsecrets.Store // the repository secrets and registry credentials
	queue   ci.Queue
	logs    *fs.Store
	blobs   blob.Store // workspace snapshots, caches and artifacts, shared by the runners and the API
	ctl     *dispatch.Dispatcher
	intake  *intake.Intake            // the webhook's, flushed at shutdown
	creds   dispatch.CloneCredentials // nil without GitHub credentials
	metrics *metrics
	runners []*devRunner
	srv     *http.Server
	lis     net.Listener
	info    Info
	closers []func() // released last, in reverse order

	done    chan struct{}
	errOnce sync.Once
	err     error
}

// Info describes a running stack, for people.
type Info struct {
	Listen       string // the address the HTTP server listens on, and who can reach it
	URL          string // the dashboard, http://host:port/
	WebhookURL   string // where GitHub (or `narwhal trigger`) posts
	APIURL       string // the REST API's base
	MetricsURL   string
	Executor     string // docker, host or custom
	ExecutorNote string // why auto chose host, "" otherwise
	Store        string
	Queue        string
	Dir          string
	GitHub       string   // where clone credentials come from
	Runners      []string // runner IDs and their gRPC addresses
}

// Info returns the stack's addresses and choices.
func (s *Stack) Info() Info { return s.info }

// WebhookSecret returns the webhook secret (kept in Dir across starts).
func (s *Stack) WebhookSecret() string { return s.sec.webhookSecret }

// APIToken returns the REST API's bearer token (kept in Dir across starts).
func (s *Stack) APIToken() string { return s.sec.apiToken }

// Done is closed when the stack has shut down.
func (s *Stack) Done() <-chan struct{} { return s.done }

// Wait blocks until the stack has shut down (ctx of Start ended, or a part
// failed) and returns the failure, nil after a requested shutdown.
func (s *Stack) Wait() error {
	<-s.done
	return s.err
}

// fail records the first failure of a part; the stack then shuts down.
func (s *Stack) fail(err error) {
	s.errOnce.Do(func() { s.err = err })
}

// Start builds every part and runs the stack until ctx ends; then it shuts
// down in order (see shutdown) and closes Done. An error means nothing runs.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	cfg = cfg.withDefaults()
	// Workspaces under Dir are bind-mounted into containers, which needs
	// absolute paths.
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	cfg.Dir = dir
	s := &Stack{cfg: cfg, log: cfg.Logger, done: make(chan struct{})}
	if err := s.build(ctx); err != nil {
		s.release()
		return nil, err
	}
	run, stop := context.WithCancelCause(ctx)
	loops := s.startLoops(run, stop)
	go s.serveHTTP(stop)
	go func() {
		<-run.Done()
		s.shutdown(loops)
		stop(nil)
		close(s.done)
	}()
	return s, nil
}

// build makes every part; nothing is dispatched or served yet, but the
// runners have registered.
func (s *Stack) build(ctx context.Context) error {
	var err error
	cfg := s.cfg
	if s.sec, err = loadSecrets(cfg.Dir, cfg.WebhookSecretFiles); err != nil {
		return err
	}
	if err := s.githubCredentials(); err != nil {
		return err
	}
	if s.cfg.RunnerName == "" {
		if s.cfg.RunnerName, err = runnerName(cfg.Dir); err != nil {
			return err
		}
	}
	if s.lis, err = net.Listen("tcp", cfg.Addr); err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	st, storeDesc, closeStore, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	s.store, s.closers = st, append(s.closers, func() { closeStore() })
	vault, closeVault, err := openVault(ctx, cfg)
	if err != nil {
		return err
	}
	s.vault, s.closers = vault, append(s.closers, closeVault)
	q, queueDesc, err := openQueue(ctx, cfg, s.log)
	if err != nil {
		return err
	}
	s.queue, s.closers = q, append(s.closers, func() { q.Close() })
	s.logs = fs.New(filepath.Join(cfg.Dir, logsDir))
	s.blobs = blobfs.New(filepath.Join(cfg.Dir, blobsDir))
	s.metrics = newMetrics(s.store)
	s.ctl = s.dispatcher()
	s.srv = newServer(s.handler(), cfg.ReadTimeout)
	s.info = s.describe(storeDesc, queueDesc)
	if err := s.startRunners(ctx); err != nil {
		return err
	}
	return s.recoverJobs(ctx)
}

// startRunners chooses the executor and starts cfg.Runners runners.
func (s *Stack) startRunners(ctx context.Context) error {
	kind, why, err := chooseExecutor(ctx, s.cfg, s.log)
	if err != nil {
		return err
	}
	s.info.Executor = kind
	if why != nil {
		s.info.ExecutorNote = "Docker is not available (" + why.Error() + "): steps run on this machine with the host executor"
		s.log.Warn("Docker is not available; runners use the host executor (no isolation, no services)", "err", why)
	}
	parts := runnerParts{name: s.cfg.RunnerName, dir: s.cfg.Dir, capacity: s.cfg.Capacity, heartbeat: s.cfg.Heartbeat,
		version: s.cfg.Version, secrets: s.sec, queue: s.queue, logs: s.logs, blobs: s.blobs,
		cacheMax: s.cfg.CacheMaxBytes, caFile: s.cfg.GitCAFile,
		newExec: executorFactory(kind, s.cfg, s.log), log: s.log}
	for n := 1; n <= s.cfg.Runners; n++ {
		dr, err := startRunner(ctx, parts, n)
		if err != nil {
			return err
		}
		s.runners = append(s.runners, dr)
		s.info.Runners = append(s.info.Runners, dr.id+" "+dr.addr())
	}
	return nil
}

// release frees what build made, in reverse order.
func (s *Stack) release() {
	for i := len(s.runners) - 1; i >= 0; i-- {
		s.runners[i].release()
	}
	if s.lis != nil {
		s.lis.Close()
	}
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}
