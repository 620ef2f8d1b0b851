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

	"github.com/narwhal-ci/narwhal/internal/blob"
	blobfs "github.com/narwhal-ci/narwhal/internal/blob/fs"
	blobs3 "github.com/narwhal-ci/narwhal/internal/blob/s3"
	"github.com/narwhal-ci/narwhal/internal/executor/docker"
	"github.com/narwhal-ci/narwhal/internal/executor/pick"
	"github.com/narwhal-ci/narwhal/internal/logstore"
	"github.com/narwhal-ci/narwhal/internal/logstore/fs"
	"github.com/narwhal-ci/narwhal/internal/logstore/s3"
	"github.com/narwhal-ci/narwhal/internal/reserve"
	"github.com/narwhal-ci/narwhal/internal/runner"
	"github.com/narwhal-ci/narwhal/internal/runnerhost"
)

// daemon is runnerd: one runner host (internal/runnerhost) and its metrics
// server, built from the configuration by build.
type daemon struct {
	cfg     *Config
	log     *slog.Logger
	host    *runnerhost.Host
	metrics *metricsServer
	disk    *diskGuard    // nil when off
	closers []func()      // released last, in reverse order
	s3      *awss3.Client // made on first use (s3Client)
	// localArtifacts and localCache are the artifact and cache stores
	// when they are on this runner's disk, which runnerd sweeps itself
	// (sweepLocalArtifacts) and its disk guard watches (storeDisk); else nil.
	localArtifacts, localCache blob.Store
}

// Layout of the work directory.
const (
	jobsDir   = "jobs"   // job workspaces, swept at start
	outboxDir = "outbox" // reports not yet published
)

// build makes every part of the daemon; nothing runs yet. On error what was
// made is released.
func build(ctx context.Context, cfg *Config, log *slog.Logger) (d *daemon, err error) {
	d = &daemon{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			d.release()
		}
	}()
	logs, err := d.logStore(ctx)
	if err != nil {
		return nil, err
	}
	send, closeSink, err := newSink(cfg, log)
	if err != nil {
		return nil, err
	}
	d.closers = append(d.closers, closeSink)
	hc, err := d.hostConfig()
	if err != nil {
		return nil, err
	}
	st, err := d.stores(ctx)
	if err != nil {
		return nil, err
	}
	if cfg.Artifacts.local() {
		d.localArtifacts = st.artifacts
	}
	if cfg.Cache.local() {
		d.localCache = st.cache
	}
	if d.disk, err = d.newDiskGuard(ctx); err != nil {
		return nil, err
	}
	d.closers = append(d.closers, d.disk.close)
	if d.host, err = runnerhost.Open(ctx, hc, runnerhost.Deps{NewExec: d.executor, Send: send, Logs: logs,
		Snapshots: st.snapshots, Cache: st.cache, CacheMaxBytes: cfg.Cache.maxBytes(), Artifacts: st.artifacts,
		Logger: log, DiskStatus: d.disk.status()}); err != nil {
		return nil, err
	}
	reg := d.host.Runner().Registry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	d.metrics, err = newMetricsServer(cfg.MetricsListen, reg, d.host.Runner().Accepting)
	return d, err
}

// hostConfig is the runner host of the configuration: its TLS pair read and
// its gRPC address bound.
func (d *daemon) hostConfig() (runnerhost.Config, error) {
	c := d.cfg
	cert, err := os.ReadFile(c.TLS.Cert)
	if err != nil {
		return runnerhost.Config{}, fmt.Errorf("tls cert: %w", err)
	}
	key, err := os.ReadFile(c.TLS.Key)
	if err != nil {
		return runnerhost.Config{}, fmt.Errorf("tls key: %w", err)
	}
	lis, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return runnerhost.Config{}, fmt.Errorf("listen: %w", err)
	}
	return runnerhost.Config{
		Runner: runner.Config{
			ID: c.ID, Token: c.Tokens[0], Address: c.Advertise, Labels: c.Labels, Capacity: c.Capacity,
			WorkDir: filepath.Join(c.WorkDir, jobsDir), Heartbeat: c.Heartbeat,
			DrainTimeout: c.DrainTimeout, Version: version, JobTimeout: c.JobTimeout,
		},
		OutboxDir: filepath.Join(c.WorkDir, outboxDir), CertPEM: cert, KeyPEM: key, Tokens: c.Tokens, Listener: lis,
	}, nil
}

// executor builds the configured executor (Docker must answer at start) and
// the checkout that goes with it (the git checkout, with git_ca_file).
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
	d.disk.useReclaim(ex.Reclaim)
	return ex, runner.GitCheckout{CAFile: d.cfg.GitCAFile}, nil
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
	client, err := d.s3Client(ctx)
	if err != nil {
		return nil, err
	}
	return s3.New(client, l.S3Bucket, l.S3Prefix), nil
}

// stores are the blob stores of the runner (StoreConfig); nil for one
// that is off.
type stores struct{ snapshots, cache, artifacts blob.Store }

// stores builds the snapshot, cache and artifact stores, and warns when the
// artifacts stay on this runner's disk although it reports to a dispatcher
// (RabbitMQ): that dispatcher's API cannot serve them.
func (d *daemon) stores(ctx context.Context) (stores, error) {
	var st stores
	for _, s := range []struct {
		name string
		cfg  StoreConfig
		dst  *blob.Store
	}{
		{"snapshots", d.cfg.Snapshots, &st.snapshots},
		{"cache", d.cfg.Cache.StoreConfig, &st.cache},
		{"artifacts", d.cfg.Artifacts, &st.artifacts},
	} {
		store, err := d.blobStore(ctx, s.cfg)
		if err != nil {
			return stores{}, fmt.Errorf("%s store: %w", s.name, err)
		}
		*s.dst = store
	}
	if d.cfg.Artifacts.local() && d.cfg.Report.AMQPURL != "" {
		d.log.Warn("artifacts are kept on this runner's disk, which the dispatcher's API cannot read: "+
			"set artifacts.s3_bucket (NARWHAL_ARTIFACTS_BUCKET) to the bucket the dispatcher serves, or artifacts.off",
			"dir", d.cfg.Artifacts.Dir)
	}
	return st, nil
}

// blobStore builds the store c says (StoreConfig): nil when off, S3 when a
// bucket is configured, else a directory.
func (d *daemon) blobStore(ctx context.Context, c StoreConfig) (blob.Store, error) {
	switch {
	case c.Off:
		return nil, nil
	case c.S3Bucket == "":
		return blobfs.New(c.Dir), nil
	}
	client, err := d.s3Client(ctx)
	if err != nil {
		return nil, err
	}
	return blobs3.New(client, c.S3Bucket, c.S3Prefix), nil
}

// s3Client is the S3 client of the logs and the blob stores, configured
// from the environment, made once.
func (d *daemon) s3Client(ctx context.Context) (*awss3.Client, error) {
	if d.s3 != nil {
		return d.s3, nil
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	d.s3 = awss3.NewFromConfig(awsCfg, func(o *awss3.Options) {
		// A configured endpoint (LocalStack, moto, MinIO) has no bucket
		// subdomains.
		o.UsePathStyle = os.Getenv("AWS_ENDPOINT_URL") != "" || os.Getenv("AWS_ENDPOINT_URL_S3") != ""
	})
	return d.s3, nil
}

// release closes what build made that the host does not own, in reverse
// order (the host releases itself in Close).
func (d *daemon) release() {
	if d.host != nil {
		d.host.Release()
	}
	d.metrics.close()
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
}
