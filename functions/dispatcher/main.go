// Command dispatcher is the control plane Lambda function: Amazon MQ batches
// of job messages and runner reports, the once-a-minute monitor, and the
// REST API, told apart by the shape of the event (handler.go). It only
// wires: configuration from the environment (docs/deploy.md), the DynamoDB
// store (with a writeback pass per batch of runner reports), its settings'
// secrets read through a cache, a RabbitMQ queue connected on first use and
// kept across invocations, the S3 log store and artifact store (whose
// expired artifacts the monitor sweeps, hourly), the repository secrets in
// Secrets Manager (secrets/awssm, read fresh: a change applies to the next
// job), GitHub, the runner client pool, and internal/dispatch, internal/api
// and internal/lambdahttp; every AWS call is counted and logged per
// invocation (internal/awscount, docs/cost.md).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go/middleware"

	"github.com/narwhal-ci/narwhal/internal/api"
	"github.com/narwhal-ci/narwhal/internal/artifact"
	"github.com/narwhal-ci/narwhal/internal/awscount"
	blobs3 "github.com/narwhal-ci/narwhal/internal/blob/s3"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/dispatch"
	"github.com/narwhal-ci/narwhal/internal/ghauth"
	"github.com/narwhal-ci/narwhal/internal/github"
	"github.com/narwhal-ci/narwhal/internal/intake"
	"github.com/narwhal-ci/narwhal/internal/lambdahttp"
	"github.com/narwhal-ci/narwhal/internal/logstore/s3"
	"github.com/narwhal-ci/narwhal/internal/queue"
	"github.com/narwhal-ci/narwhal/internal/queue/amqp"
	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/runnerkey"
	"github.com/narwhal-ci/narwhal/internal/secretcache"
	reposecrets "github.com/narwhal-ci/narwhal/internal/secrets"
	"github.com/narwhal-ci/narwhal/internal/secrets/awssm"
	"github.com/narwhal-ci/narwhal/internal/store/dynamo"
	"github.com/narwhal-ci/narwhal/internal/store/writeback"
)

// Bounds of the cold start and of a broker connect.
const (
	initTimeout = 8 * time.Second
	dialTimeout = 4 * time.Second
	// sweepAge: the monitor republishes queued jobs unpublished this long.
	sweepAge = time.Minute
)

func main() {
	cfg, err := configFromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	ctx, cancel := context.WithTimeout(context.Background(), initTimeout)
	calls := &awscount.Counter{Indexes: dynamo.IndexKeys()}
	h, err := build(ctx, cfg, log, calls)
	cancel()
	if err != nil {
		log.Error("dispatcher start failed", "err", err)
		os.Exit(1)
	}
	lambda.Start(awscount.Logged(calls, log, h.Invoke))
}

// build makes the handler and its dependencies from cfg; calls counts
// their AWS calls.
func build(ctx context.Context, cfg config, log *slog.Logger, calls *awscount.Counter) (*handler, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithAPIOptions([]func(*middleware.Stack) error{calls.Register}))
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	// Every settings secret read goes through the cache: once per TTL per warm
	// environment. The repository secrets do not: they are read when a job is
	// handed over, and written by the API.
	smClient := secretsmanager.NewFromConfig(awsCfg)
	sm := secretcache.New(smClient, secretcache.DefaultTTL)
	sec, err := readSecrets(ctx, cfg, sm)
	if err != nil {
		return nil, err
	}
	ca, err := pemBytes("NARWHAL_RUNNER_CA", cfg.runnerCA)
	if err != nil {
		return nil, err
	}
	fleet := runnerkey.Fleet(splitTokens(sec.runnerToken))
	if err := fleet.Check(); err != nil {
		return nil, fmt.Errorf("NARWHAL_RUNNER_TOKEN: %w", err)
	}
	store := dynamo.New(dynamodb.NewFromConfig(awsCfg), cfg.table)
	vaultBackend, err := awssm.New(smClient, awssm.Config{Prefix: cfg.secretsPrefix})
	if err != nil {
		return nil, fmt.Errorf("NARWHAL_SECRETS_PREFIX: %w", err)
	}
	vault := reposecrets.New(vaultBackend)
	pass := writeback.New(store) // a batch of runner reports writes each job once
	q := queue.NewLazy(dialer(cfg, sm, log))
	in := &intake.Intake{Store: store, Queue: q, Logger: log}
	s3c := s3Client(awsCfg)
	arts := artifactStore(s3c, cfg)
	deps := dispatch.Deps{
		Store: pass, Queue: q, Logger: log, Secrets: vault,
		Clients: dispatch.NewPool(rpc.ClientConfig{CAPEM: ca, ServerName: cfg.runnerName, Logger: log}, fleet),
		Sweep:   func(ctx context.Context) (int, error) { return in.Sweep(ctx, sweepAge) },
	}
	if arts != nil {
		deps.SweepArtifacts = (&hourly{sweep: func(ctx context.Context, now time.Time) (int, error) {
			return artifact.SweepExpired(ctx, arts, now)
		}}).run
	}
	if err := withGitHub(&deps, cfg, sec); err != nil {
		return nil, err
	}
	d := dispatch.New(dispatch.Config{SelfURL: cfg.publicURL, RunnerKeys: fleet,
		CancelSupersededPushes: cfg.cancelSupersededPushes}, deps)
	rest := api.New(api.Deps{Jobs: store, Runners: store, Ops: d, Logs: s3.New(s3c, cfg.logBucket, cfg.logPrefix),
		Secrets: vault, Artifacts: artifactReader(arts), Tokens: splitTokens(sec.apiTokens), Logger: log})
	return &handler{core: d, api: lambdahttp.Handler(rest), prefix: cfg.amqpPrefix, pass: pass, log: log}, nil
}

// secrets are the settings that may live in Secrets Manager, read once per
// execution environment (a rotation reaches new environments); the broker's
// credentials are read on each connect, through the cache.
type secrets struct{ runnerToken, githubToken, githubAppKey, apiTokens string }

func readSecrets(ctx context.Context, cfg config, sm secretsAPI) (secrets, error) {
	var s secrets
	var errs []error
	for _, r := range []struct {
		src secretSource
		dst *string
	}{{cfg.runnerToken, &s.runnerToken}, {cfg.githubToken, &s.githubToken}, {cfg.githubAppKey, &s.githubAppKey},
		{cfg.apiTokens, &s.apiTokens}} {
		v, err := r.src.resolve(ctx, sm)
		*r.dst, errs = v, append(errs, err)
	}
	return s, errors.Join(errs...)
}

// withGitHub adds clone credentials, commit statuses and narwhal.yml labels
// when there is a GitHub App or token, all from the same per-repository
// token; without either the dispatcher asks GitHub nothing and clones public
// repositories only.
func withGitHub(deps *dispatch.Deps, cfg config, sec secrets) error {
	src, err := githubSource(cfg, sec)
	if src == nil || err != nil {
		return err
	}
	fetcher := github.NewConfigFetcher(src)
	deps.Credentials, deps.Config, deps.SecretNames, deps.Filter = src, fetcher, fetcher, fetcher
	deps.Status = github.NewStatusReporter(src, github.StatusOptions{SelfURL: cfg.publicURL, Names: fetcher})
	return nil
}

// githubSource is the GitHub App or the token configured, nil for neither.
func githubSource(cfg config, sec secrets) (ghauth.Source, error) {
	switch {
	case cfg.githubAppID > 0:
		key, err := pemBytes("NARWHAL_GITHUB_APP_KEY", sec.githubAppKey)
		if err != nil {
			return nil, err
		}
		return ghauth.NewApp(ghauth.AppConfig{AppID: cfg.githubAppID, PrivateKey: key,
			InstallationID: cfg.githubAppInstall, BaseURL: cfg.githubURL})
	case sec.githubToken != "":
		return ghauth.NewStatic(sec.githubToken, cfg.githubURL)
	}
	return nil, nil
}

// s3Client is the client of the job logs and the artifacts, path-style
// when an endpoint is configured (LocalStack, moto).
func s3Client(awsCfg aws.Config) *awss3.Client {
	local := awsCfg.BaseEndpoint != nil || os.Getenv("AWS_ENDPOINT_URL_S3") != ""
	return awss3.NewFromConfig(awsCfg, func(o *awss3.Options) { o.UsePathStyle = local })
}

// artifactStore is where the runners upload the jobs' artifacts
// (NARWHAL_ARTIFACTS_BUCKET, _PREFIX), nil without a bucket.
func artifactStore(client *awss3.Client, cfg config) *blobs3.Store {
	if cfg.artifactBucket == "" {
		return nil
	}
	return blobs3.New(client, cfg.artifactBucket, cfg.artifactPrefix)
}

// artifactReader is store for the API: a nil interface without one, so
// that the API answers that artifacts are not configured.
func artifactReader(store *blobs3.Store) api.ArtifactReader {
	if store == nil {
		return nil
	}
	return store
}

// artifactSweepEvery spaces the monitor's artifact sweeps: expiry is by
// the day, so once an hour is exact enough, and it spares listing the
// bucket's artifacts at every monitor run (each minute).
const artifactSweepEvery = time.Hour

// hourly runs sweep at most once per artifactSweepEvery of the monitor's
// clock in this execution environment (a cold start sweeps at once).
type hourly struct {
	mu    sync.Mutex
	last  time.Time
	sweep func(ctx context.Context, now time.Time) (int, error)
}

// run is a dispatch.Deps.SweepArtifacts: the sweep, or 0 when the last one
// was less than artifactSweepEvery ago. A failed sweep is tried again at
// the next monitor run.
func (h *hourly) run(ctx context.Context, now time.Time) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.last.IsZero() && now.Sub(h.last) < artifactSweepEvery {
		return 0, nil
	}
	n, err := h.sweep(ctx, now)
	if err == nil {
		h.last = now
	}
	return n, err
}

// dialer connects to RabbitMQ, reading the broker credentials from Secrets
// Manager first when they live there.
func dialer(cfg config, sm secretsAPI, log *slog.Logger) func(context.Context) (ci.Queue, error) {
	var secret func(context.Context) (string, error)
	if cfg.mqSecretARN != "" {
		secret = func(ctx context.Context) (string, error) { return secretSource{arn: cfg.mqSecretARN}.resolve(ctx, sm) }
	}
	return amqp.Dialer(amqp.Config{URL: cfg.amqpURL, Prefix: cfg.amqpPrefix, ConnectionName: "narwhal dispatcher"},
		cfg.mqEndpoint, secret, dialTimeout, log)
}
