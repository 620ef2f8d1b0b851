package devstack

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue/amqp"
	"github.com/narwhal-ci/narwhal/internal/queue/memq"
	rsecrets "github.com/narwhal-ci/narwhal/internal/secrets"
	"github.com/narwhal-ci/narwhal/internal/secrets/awssm"
	"github.com/narwhal-ci/narwhal/internal/secrets/embedded"
	"github.com/narwhal-ci/narwhal/internal/store/dynamo"
	"github.com/narwhal-ci/narwhal/internal/store/sqlite"
)

// DefaultTable is the DynamoDB table of the store with --aws-endpoint.
const DefaultTable = "narwhal-dev"

// openStore opens the embedded SQLite store in dir, or the DynamoDB table on
// cfg.AWSEndpoint (created when missing). The close function releases it.
func openStore(ctx context.Context, cfg Config) (ci.Store, string, func() error, error) {
	if cfg.AWSEndpoint == "" {
		path := filepath.Join(cfg.Dir, storeFile)
		// The stack is the file's only writer (two stacks on one --dir are
		// refused), so the store may answer reads of the jobs it wrote from
		// memory.
		st, err := sqlite.OpenWith(ctx, path, sqlite.Options{Exclusive: true})
		if err != nil {
			return nil, "", nil, fmt.Errorf("open store: %w", err)
		}
		return st, "sqlite " + path, st.Close, nil
	}
	client, err := dynamoClient(ctx, cfg.AWSEndpoint)
	if err != nil {
		return nil, "", nil, err
	}
	st := dynamo.New(client, cfg.Table)
	if err := st.CreateTable(ctx); err != nil {
		return nil, "", nil, fmt.Errorf("create table %s: %w", cfg.Table, err)
	}
	return st, fmt.Sprintf("dynamodb %s at %s", cfg.Table, cfg.AWSEndpoint), func() error { return nil }, nil
}

// dynamoClient is a DynamoDB client for endpoint (see localAWS).
func dynamoClient(ctx context.Context, endpoint string) (*dynamodb.Client, error) {
	awsCfg, err := localAWS(ctx)
	if err != nil {
		return nil, err
	}
	return dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(endpoint) }), nil
}

// openVault opens the repository secrets: in the SQLite database of dir,
// encrypted with the key file beside it, or in Secrets Manager on
// cfg.AWSEndpoint under "<table>/repos/".
func openVault(ctx context.Context, cfg Config) (*rsecrets.Store, func(), error) {
	if cfg.AWSEndpoint == "" {
		b, err := embedded.Open(ctx, filepath.Join(cfg.Dir, storeFile), filepath.Join(cfg.Dir, secretsKey))
		if err != nil {
			return nil, nil, fmt.Errorf("open secrets: %w", err)
		}
		return rsecrets.New(b), func() { b.Close() }, nil
	}
	awsCfg, err := localAWS(ctx)
	if err != nil {
		return nil, nil, err
	}
	sm := secretsmanager.NewFromConfig(awsCfg, func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(cfg.AWSEndpoint) })
	b, err := awssm.New(sm, awssm.Config{Prefix: cfg.Table + "/repos/"})
	if err != nil {
		return nil, nil, err
	}
	return rsecrets.New(b), func() {}, nil
}

// localAWS is the AWS configuration for a local endpoint (moto,
// LocalStack), which accepts any credentials: when the environment names
// none, placeholder ones are used, and us-east-1 when no region is set.
func localAWS(ctx context.Context) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(aws.CredentialsProviderFunc(
			func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test", Source: "narwhal dev"}, nil
			})))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("aws config: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	return awsCfg, nil
}

// openQueue returns the in-memory queue, or RabbitMQ at cfg.AMQPURL.
func openQueue(ctx context.Context, cfg Config, log *slog.Logger) (ci.Queue, string, error) {
	if cfg.AMQPURL == "" {
		return memq.New(memq.Config{}), "in-memory", nil
	}
	q, err := amqp.New(ctx, amqp.Config{URL: cfg.AMQPURL, Prefix: cfg.AMQPPrefix, ConnectionName: "narwhal dev"}, log)
	if err != nil {
		return nil, "", fmt.Errorf("connect to RabbitMQ: %w", err)
	}
	return q, "rabbitmq " + redactURL(cfg.AMQPURL), nil
}
