// Command agent is the webhook intake Lambda function: API Gateway events in,
// durable queued jobs out. It only wires: configuration from the environment
// (docs/intake.md), a DynamoDB store, a RabbitMQ queue connected on first use
// and kept across invocations, the webhook secret, and webhook.Handler behind
// the API Gateway adapter (lambdahttp.Any: payload 2.0 and 1.0).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go/middleware"

	"github.com/narwhal-ci/narwhal/internal/awscount"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/intake"
	"github.com/narwhal-ci/narwhal/internal/lambdahttp"
	"github.com/narwhal-ci/narwhal/internal/queue"
	"github.com/narwhal-ci/narwhal/internal/queue/amqp"
	"github.com/narwhal-ci/narwhal/internal/store/dynamo"
	"github.com/narwhal-ci/narwhal/internal/webhook"
)

// dialTimeout bounds a connect to the broker, so that a webhook is answered
// (with the job left unpublished) while GitHub still waits.
const dialTimeout = 4 * time.Second

func main() {
	cfg, err := configFromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	calls := &awscount.Counter{Indexes: dynamo.IndexKeys()}
	h, err := build(context.Background(), cfg, log, calls)
	if err != nil {
		log.Error("agent start failed", "err", err)
		os.Exit(1)
	}
	lambda.Start(awscount.Logged(calls, log, h))
}

// build makes the handler and its dependencies from cfg; calls counts
// their AWS calls.
func build(ctx context.Context, cfg config, log *slog.Logger, calls *awscount.Counter) (lambdahttp.AnyFunc, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithAPIOptions([]func(*middleware.Stack) error{calls.Register}))
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	sm := secretsmanager.NewFromConfig(awsCfg)
	in := &intake.Intake{
		Store:  dynamo.New(dynamodb.NewFromConfig(awsCfg), cfg.table),
		Queue:  queue.NewLazy(dialer(cfg, sm, log)),
		Logger: log,
	}
	var secrets webhook.SecretSource = webhook.SecretLines(cfg.webhookSecret)
	if cfg.webhookSecretARN != "" {
		secrets = NewManagedSecrets(sm, cfg.webhookSecretARN, DefaultSecretTTL, nil)
	}
	return lambdahttp.Any(webhook.NewHandler(webhook.Deps{Intake: in, Secrets: secrets, Logger: log})), nil
}

// dialer connects to RabbitMQ, reading the broker credentials from Secrets
// Manager first when they live there.
func dialer(cfg config, sm SecretsAPI, log *slog.Logger) func(context.Context) (ci.Queue, error) {
	var secret func(context.Context) (string, error)
	if cfg.mqSecretARN != "" {
		secret = func(ctx context.Context) (string, error) {
			out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(cfg.mqSecretARN)})
			if err != nil {
				return "", fmt.Errorf("get broker secret: %w", err)
			}
			return aws.ToString(out.SecretString), nil
		}
	}
	return amqp.Dialer(amqp.Config{URL: cfg.amqpURL, Prefix: cfg.amqpPrefix}, cfg.mqEndpoint, secret, dialTimeout, log)
}
