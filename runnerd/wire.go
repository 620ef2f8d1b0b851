package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc"

	"github.com/narwhal-ci/narwhal/internal/executor/docker"
	"github.com/narwhal-ci/narwhal/internal/executor/pick"
	"github.com/narwhal-ci/narwhal/internal/logstore"
	"github.com/narwhal-ci/narwhal/internal/logstore/fs"
	"github.com/narwhal-ci/narwhal/internal/logstore/s3"
	"github.com/narwhal-ci/narwhal/internal/outbox"
	"github.com/narwhal-ci/narwhal/internal/reserve"
	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/runner"
)

// daemon is runnerd's parts, built from the configuration by build.
type daemon struct {
	cfg     *Config
	log     *slog.Logger
	runner  *runner.Runner
	health  *rpc.Health
	grpc    *grpc.Server
	lis     net.Listener
	metrics *metricsServer
	outbox  *outbox.Outbox
	closers []func() // released last, in reverse order
}

// Layout of the work directory.
const (
	jobsDir   = "jobs"   // job workspaces, swept at start
	outboxDir = "outbox" // reports not yet published
)

// build makes every part of the daemon; nothing runs yet. On error what was
// made is released.
func build(ctx context.Context, cfg *Config, log *slog.Logger) (d *daemon, err error) {
	d = &daemon{cfg: cfg, log: log, health: rpc.NewHealth()}
	defer func() {
		if err != nil {
			d.release()
		}
	}()
	ex, checkout, err := d.executor(ctx)
	if err != nil {
		return nil, err
	}
	logs, err := d.logStore(ctx)
	if err != nil {
		return nil, err
	}
	if err := d.openOutbox(ctx); err != nil {
		return nil, err
	}
	if d.runner, err = runner.New(d.runnerConfig(), d.runnerDeps(ex, checkout, logs)); err != nil {
		return nil, err
	}
	d.runner.Registry().MustRegister(collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return d, d.listen()
}

// executor builds the configured executor (Docker must answer at start) and
// the checkout that goes with it (nil: the production git checkout).
func (d *daemon) executor(ctx context.Context) (pick.Built, runner.Checkout, error) {
	x := d.cfg.Executor
	if x.Kind == "fake" {
		return fakeExecutor(x.Scale)
	}
	mem, _ := parseSize(x.Memory) // validated by loadConfig
	ex, err := pick.Build(ctx, pick.Options{Kind: x.Kind, HostGrace: x.StopGrace, Docker: docker.Config{
		RunnerID: d.cfg.ID, Memory: mem, CPUs: x.CPUs, PidsLimit: x.Pids, StopGrace: x.StopGrace,
		Isolation: x.Isolation}}, d.log)
	if err != nil {
		return pick.Built{}, nil, err
	}
	d.closers = append(d.closers, func() { ex.Close() })
	return ex, nil, nil
}

// logStore builds the job log store: S3 when a bucket is configured, else a
// directory with space reserved for it (reservedLogs).
func (d *daemon) logStore(ctx context.Context) (logstore.Store, error) {
	l := d.cfg.Logs
	if l.S3Bucket == "" {
		if err := os.MkdirAll(l.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("log dir: %w", err)
		}
		return reservedLogs{Store: fs.New(l.Dir), spare: reserve.Open(l.Dir, 0, d.log)}, nil
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	client := awss3.NewFromConfig(awsCfg, func(o *awss3.Options) {
		// A configured endpoint (LocalStack, moto, MinIO) has no bucket
		// subdomains.
		o.UsePathStyle = os.Getenv("AWS_ENDPOINT_URL") != "" || os.Getenv("AWS_ENDPOINT_URL_S3") != ""
	})
	return s3.New(client, l.S3Bucket, l.S3Prefix), nil
}

// openOutbox opens the durable outbox in front of the report sink.
func (d *daemon) openOutbox(ctx context.Context) error {
	send, closeSink, err := newSink(d.cfg, d.log)
	if err != nil {
		return err
	}
	d.closers = append(d.closers, closeSink)
	box, err := outbox.Open(ctx, filepath.Join(d.cfg.WorkDir, outboxDir), send, outbox.Options{}, d.log)
	if err != nil {
		return fmt.Errorf("open outbox: %w", err)
	}
	d.outbox = box
	return nil
}

func (d *daemon) runnerConfig() runner.Config {
	c := d.cfg
	return runner.Config{
		ID: c.ID, Token: c.Tokens[0], Address: c.Advertise, Labels: c.Labels, Capacity: c.Capacity,
		WorkDir: filepath.Join(c.WorkDir, jobsDir), Heartbeat: c.Heartbeat,
		DrainTimeout: c.DrainTimeout, Version: version, JobTimeout: c.JobTimeout,
	}
}

func (d *daemon) runnerDeps(ex pick.Built, checkout runner.Checkout, logs logstore.Store) runner.Deps {
	return runner.Deps{Exec: ex.Executor, Sweep: ex.Sweep, Reclaim: ex.Reclaim, Reports: d.outbox, Logs: logs,
		Checkout: checkout, Logger: d.log}
}

// listen makes the gRPC server and binds its address and the metrics one.
func (d *daemon) listen() error {
	cert, err := os.ReadFile(d.cfg.TLS.Cert)
	if err != nil {
		return fmt.Errorf("tls cert: %w", err)
	}
	key, err := os.ReadFile(d.cfg.TLS.Key)
	if err != nil {
		return fmt.Errorf("tls key: %w", err)
	}
	d.grpc, err = rpc.NewServer(d.runner, rpc.ServerConfig{CertPEM: cert, KeyPEM: key,
		Tokens: d.cfg.Tokens, Health: d.health}, d.log)
	if err != nil {
		return err
	}
	if d.lis, err = net.Listen("tcp", d.cfg.Listen); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	d.metrics, err = newMetricsServer(d.cfg.MetricsListen, d.runner.Registry(), d.runner.Accepting)
	return err
}

// release closes what build made, in reverse order.
func (d *daemon) release() {
	if d.lis != nil {
		d.lis.Close()
	}
	d.metrics.close()
	if d.outbox != nil {
		d.outbox.Close()
	}
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
}
