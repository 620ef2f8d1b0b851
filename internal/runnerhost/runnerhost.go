// Package runnerhost assembles one runner the way runnerd runs it: a durable
// outbox in front of the report sink, the executor, the runner core
// (internal/runner), and its gRPC server with TLS and the runner's own
// token. runnerd starts one host; `narwhal dev` starts N of the same in one
// process. The caller owns what lies around it: configuration, signals,
// metrics serving, the listener's address.
//
// Life cycle: Open (nothing runs yet) → Start (sweeps, register report,
// heartbeats, serving) → StopJobs (no new jobs; running ones drained or
// cancelled) → Close (last reports flushed, server stopped, executor
// released). Close after a failed Start, or without Start, is fine.
package runnerhost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"google.golang.org/grpc"

	"github.com/narwhal-ci/narwhal/internal/blob"
	"github.com/narwhal-ci/narwhal/internal/executor/pick"
	"github.com/narwhal-ci/narwhal/internal/logstore"
	"github.com/narwhal-ci/narwhal/internal/outbox"
	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/runner"
)

// ErrOutbox says Open could not open the outbox: most often its lock is
// held, by another process of the same runner ID.
var ErrOutbox = errors.New("open outbox")

// Config is what a host is made of.
type Config struct {
	// Runner configures the runner core (ID, token, address, capacity,
	// work dir, heartbeat, ...).
	Runner runner.Config
	// OutboxDir holds the reports not yet published; its lock claims the
	// runner ID, so a second process with the same directory fails to open.
	OutboxDir string
	Outbox    outbox.Options
	// CertPEM and KeyPEM are the gRPC server's TLS pair.
	CertPEM, KeyPEM []byte
	// Tokens are the bearer tokens the server accepts: the runner's own.
	Tokens []string
	// Listener is where the gRPC server serves; the host closes it.
	Listener net.Listener
	// SweepOnClose removes what the executor may have left (containers,
	// networks of this runner) when the host closes, as `narwhal dev` does.
	SweepOnClose bool
}

// Deps are what the host uses. NewExec is called after the outbox is open,
// so that a runner ID already in use stops the start before the executor's
// sweep could remove the other process's containers.
type Deps struct {
	NewExec func(ctx context.Context) (pick.Built, runner.Checkout, error)
	Send    outbox.Send // publishes one report; the outbox retries it
	Logs    logstore.Store
	// Snapshots keeps workspace snapshots for re-runs from a step (see
	// runner.Deps); nil keeps none.
	Snapshots blob.Store
	// Cache keeps the repositories' caches, at most CacheMaxBytes per
	// repository, and Artifacts the jobs' artifacts (see runner.Deps); nil
	// keeps none.
	Cache         blob.Store
	CacheMaxBytes int64
	Artifacts     blob.Store
	Logger        *slog.Logger
	// DiskStatus is the runner's disk guard's Status (see runner.Deps); nil
	// reports the work dir's use and never pressure.
	DiskStatus func() (usedPercent float64, pressure string)
}

// Host is one assembled runner.
type Host struct {
	cfg    Config
	log    *slog.Logger
	runner *runner.Runner
	health *rpc.Health
	grpc   *grpc.Server
	outbox *outbox.Outbox
	exec   pick.Built
}

// Open builds the host; nothing runs yet. On error what was made is
// released. The outbox outlives ctx: it must publish the reports of the
// shutdown.
func Open(ctx context.Context, cfg Config, deps Deps) (h *Host, err error) {
	h = &Host{cfg: cfg, log: deps.Logger, health: rpc.NewHealth()}
	made := h
	defer func() {
		if err != nil {
			made.Release()
		}
	}()
	if h.outbox, err = outbox.Open(context.WithoutCancel(ctx), cfg.OutboxDir, deps.Send, cfg.Outbox, h.log); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOutbox, err)
	}
	exec, checkout, err := deps.NewExec(ctx)
	if err != nil {
		return nil, err
	}
	h.exec = exec
	if h.runner, err = runner.New(cfg.Runner, runner.Deps{Exec: exec.Executor, Sweep: exec.Sweep, Reclaim: exec.Reclaim,
		Reports: h.outbox, Logs: deps.Logs, Checkout: checkout, Snapshots: deps.Snapshots, Cache: deps.Cache,
		CacheMaxBytes: deps.CacheMaxBytes, Artifacts: deps.Artifacts, Logger: h.log,
		DiskStatus: deps.DiskStatus}); err != nil {
		return nil, err
	}
	h.grpc, err = rpc.NewServer(h.runner, rpc.ServerConfig{CertPEM: cfg.CertPEM, KeyPEM: cfg.KeyPEM,
		Tokens: cfg.Tokens, Health: h.health}, h.log)
	return h, err
}

// Runner is the runner core, for its metrics registry, Reload and Stats.
func (h *Host) Runner() *runner.Runner { return h.runner }

// Outbox is the host's outbox, for what it holds.
func (h *Host) Outbox() *outbox.Outbox { return h.outbox }

// Addr is where the gRPC server serves.
func (h *Host) Addr() net.Addr { return h.cfg.Listener.Addr() }

// Start readies the runner (sweeps, register report, heartbeats) and serves
// gRPC. The channel gets the error of a server that stops by itself.
func (h *Host) Start(ctx context.Context) (<-chan error, error) {
	if err := h.runner.Start(ctx); err != nil {
		return nil, fmt.Errorf("start runner: %w", err)
	}
	failed := make(chan error, 1)
	go func() {
		if err := h.grpc.Serve(h.cfg.Listener); err != nil {
			failed <- fmt.Errorf("grpc server: %w", err)
		}
	}()
	return failed, nil
}
