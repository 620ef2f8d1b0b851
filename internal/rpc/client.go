package rpc

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/narwhal-ci/narwhal/internal/rpc/runnerpb"
)

// ClientConfig is how the dispatcher reaches a runner.
type ClientConfig struct {
	// CAPEM holds the PEM certificates trusted to sign the runner's
	// certificate; for a self-signed runner, its certificate itself. Required.
	CAPEM []byte
	// ServerName is the name checked against the runner's certificate;
	// empty means the host part of the address.
	ServerName string
	// Token is the bearer token sent with every call, over TLS only. Required.
	Token string
	// CallTimeout bounds each attempt of a call; 0 means 10s. The caller's
	// ctx bounds the call with all its retries.
	CallTimeout time.Duration
	// Retry is the backoff for retryable failures; zero fields take defaults.
	Retry Retry
	// Logger gets retries at Debug level; nil discards them.
	Logger *slog.Logger
}

// DefaultCallTimeout is ClientConfig.CallTimeout when it is zero.
const DefaultCallTimeout = 10 * time.Second

// Client calls one runner. It implements RunnerService, so the dispatcher can
// use it and a fake alike. It is safe for concurrent use.
//
// Every call is retried, with exponential backoff, when the runner is
// Unavailable (down, restarting, unreachable), and after DeadlineExceeded of
// an attempt for idempotent calls (all of them: the server dedups Run and
// RunBatch by job ID). A certificate the client does not trust is not retried. Retries stop
// when ctx ends: the error then matches context.Cause(ctx). Errors keep their
// gRPC status (status.Code(err)); NotFound also matches ci.ErrNotFound, and
// InvalidArgument of Run matches ErrInvalidJob. Concurrent Runs share calls
// (runBatcher).
type Client struct {
	addr   string
	cfg    ClientConfig
	conn   *grpc.ClientConn
	runner runnerpb.RunnerClient
	health healthpb.HealthClient
	tls    *handshakeWatch
	log    *slog.Logger
	runs   *runBatcher
}

var _ RunnerService = (*Client)(nil)

// Dial returns a Client for the runner at addr (host:port). It does not wait
// for the connection: it starts connecting in the background, and a runner
// that is down shows on the first call (which retries). ctx only bounds Dial.
func Dial(ctx context.Context, addr string, cfg ClientConfig) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("dial runner %s: %w", addr, context.Cause(ctx))
	}
	cfg = cfg.withDefaults()
	if cfg.Token == "" {
		return nil, fmt.Errorf("dial runner %s: no bearer token", addr)
	}
	watch, err := newHandshakeWatch(cfg.CAPEM, cfg.ServerName)
	if err != nil {
		return nil, fmt.Errorf("dial runner %s: %w", addr, err)
	}
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(watch),
		grpc.WithPerRPCCredentials(tokenCreds{token: cfg.Token}),
		grpc.WithConnectParams(connectParams(cfg)))
	if err != nil {
		return nil, fmt.Errorf("dial runner %s: %w", addr, err)
	}
	conn.Connect()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{addr: addr, cfg: cfg, conn: conn, tls: watch, log: log,
		runner: runnerpb.NewRunnerClient(conn), health: healthpb.NewHealthClient(conn)}
	c.runs = newRunBatcher(c)
	return c, nil
}

func (cfg ClientConfig) withDefaults() ClientConfig {
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	cfg.Retry = cfg.Retry.withDefaults()
	return cfg
}

// connectParams keeps gRPC's own reconnect backoff no slower than ours, so a
// retry after the runner came back finds the channel reconnecting.
func connectParams(cfg ClientConfig) grpc.ConnectParams {
	return grpc.ConnectParams{
		Backoff: backoff.Config{BaseDelay: cfg.Retry.Initial, Multiplier: 1.6,
			Jitter: 0.2, MaxDelay: cfg.Retry.Max},
		MinConnectTimeout: cfg.CallTimeout,
	}
}

// Close releases the connection. Calls in flight and after Close fail.
func (c *Client) Close() error {
	c.runs.close()
	err := c.conn.Close()
	<-c.runs.exited
	if err != nil {
		return fmt.Errorf("close runner %s: %w", c.addr, err)
	}
	return nil
}

// Run asks the runner to run job; see RunnerService. A job that fails
// Validate is not sent. Concurrent Runs share calls: those queued while a
// call to the runner is under way go together in the next (runBatcher).
func (c *Client) Run(ctx context.Context, job Job) (accepted bool, reason string, err error) {
	if err := job.Validate(); err != nil {
		return false, "", fmt.Errorf("runner %s: Run: %w", c.addr, err)
	}
	return c.runs.run(ctx, jobToPB(job))
}

// Cancel asks the runner to stop a job; see RunnerService.
func (c *Client) Cancel(ctx context.Context, jobID string) error {
	req := &runnerpb.CancelRequest{JobId: jobID}
	return c.call(ctx, opCancel, func(ctx context.Context) error {
		_, err := c.runner.Cancel(ctx, req)
		return err
	})
}

// Drain asks the runner to drain; see RunnerService. The deadline travels in
// whole seconds, rounded up; 0 means the runner's default.
func (c *Client) Drain(ctx context.Context, deadline time.Duration) error {
	if deadline < 0 {
		return fmt.Errorf("runner %s: Drain: negative deadline %v", c.addr, deadline)
	}
	req := &runnerpb.DrainRequest{DeadlineSeconds: deadlineSeconds(deadline)}
	return c.call(ctx, opDrain, func(ctx context.Context) error {
		_, err := c.runner.Drain(ctx, req)
		return err
	})
}

// Stats asks the runner for its identity and load.
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	var resp *runnerpb.StatsResponse
	err := c.call(ctx, opStats, func(ctx context.Context) (err error) {
		resp, err = c.runner.Stats(ctx, &runnerpb.StatsRequest{})
		return err
	})
	if err != nil {
		return Stats{}, err
	}
	return statsFromPB(resp), nil
}

// Health reports whether the runner's health service says SERVING for the
// runner service. A draining runner answers false with a nil error.
func (c *Client) Health(ctx context.Context) (serving bool, err error) {
	var resp *healthpb.HealthCheckResponse
	err = c.call(ctx, opHealth, func(ctx context.Context) (err error) {
		resp, err = c.health.Check(ctx, &healthpb.HealthCheckRequest{Service: ServiceName})
		return err
	})
	if err != nil {
		return false, err
	}
	return resp.GetStatus() == healthpb.HealthCheckResponse_SERVING, nil
}
