package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/narwhal-ci/narwhal/internal/blob"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor/pick"
	"github.com/narwhal-ci/narwhal/internal/logstore"
	"github.com/narwhal-ci/narwhal/internal/outbox"
	"github.com/narwhal-ci/narwhal/internal/runner"
	"github.com/narwhal-ci/narwhal/internal/runnerhost"
	"github.com/narwhal-ci/narwhal/internal/runnerkey"
)

// devRunner is one in-process runnerd: the same runner host runnerd runs
// (internal/runnerhost), its gRPC server with TLS and its own token on a
// loopback port, reporting through its own durable outbox into the queue.
type devRunner struct {
	id   string
	host *runnerhost.Host
	log  *slog.Logger
}

// runnerParts are what every dev runner shares.
type runnerParts struct {
	name      string // the runners' name prefix
	dir       string // the state directory
	capacity  int
	heartbeat time.Duration
	version   string
	secrets   secrets
	queue     ci.Queue
	logs      logstore.Store
	blobs     blob.Store // snapshots, caches and artifacts (their keys apart by prefix)
	cacheMax  int64      // runner.Deps.CacheMaxBytes
	caFile    string     // GitCheckout.CAFile
	newExec   func(ctx context.Context, runnerID string) (pick.Built, error)
	log       *slog.Logger
}

// startRunner builds runner number n and starts serving it; on error what was
// made is released.
func startRunner(ctx context.Context, p runnerParts, n int) (*devRunner, error) {
	id := fmt.Sprintf("%s-%d", p.name, n)
	dr := &devRunner{id: id, log: p.log.With("runner_id", id)}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("runner %s: listen: %w", id, err)
	}
	base := filepath.Join(p.dir, runnersDir, id)
	token := runnerkey.Token(p.secrets.fleetKey, id)
	cfg := runnerhost.Config{
		Runner: runner.Config{ID: id, Token: token, Address: lis.Addr().String(), Capacity: p.capacity,
			WorkDir: filepath.Join(base, "jobs"), Heartbeat: p.heartbeat, Version: p.version},
		OutboxDir: filepath.Join(base, "outbox"),
		Outbox:    outbox.Options{InitialBackoff: 50 * time.Millisecond, MaxBackoff: 2 * time.Second},
		CertPEM:   p.secrets.certPEM, KeyPEM: p.secrets.keyPEM, Tokens: []string{token},
		Listener: lis, SweepOnClose: true,
	}
	newExec := func(ctx context.Context) (pick.Built, runner.Checkout, error) {
		b, err := p.newExec(ctx, id)
		return b, runner.GitCheckout{CAFile: p.caFile}, err
	}
	dr.host, err = runnerhost.Open(ctx, cfg, runnerhost.Deps{NewExec: newExec, Send: p.queue.Publish, Logs: p.logs,
		Snapshots: p.blobs, Cache: p.blobs, CacheMaxBytes: p.cacheMax, Artifacts: p.blobs, Logger: dr.log})
	if errors.Is(err, runnerhost.ErrOutbox) {
		return nil, fmt.Errorf("runner %s (is another narwhal dev using %s?): %w", id, p.dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("runner %s: %w", id, err)
	}
	if _, err := dr.host.Start(ctx); err != nil {
		dr.host.Release()
		return nil, fmt.Errorf("runner %s: %w", id, err)
	}
	return dr, nil
}

// addr is where the runner's gRPC server serves.
func (dr *devRunner) addr() string { return dr.host.Addr().String() }

// stopJobs cancels the jobs the runner runs and waits for them to be torn
// down and reported; it returns their IDs.
func (dr *devRunner) stopJobs(ctx context.Context) []string {
	return dr.host.StopJobs(ctx, runnerhost.Stop{Cancel: true})
}

// close ends the runner, flushes its outbox and stops its server.
func (dr *devRunner) close(ctx context.Context) { dr.host.Close(ctx) }

// release frees the runner without a shutdown.
func (dr *devRunner) release() { dr.host.Release() }
