package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/narwhal-ci/narwhal/internal/webhook"
)

// config is the agent's configuration, read from the environment
// (docs/intake.md lists the variables).
type config struct {
	table string // NARWHAL_TABLE: the DynamoDB table

	amqpURL     string // NARWHAL_AMQP_URL: amqp(s)://user:pass@host:port/vhost
	mqSecretARN string // NARWHAL_MQ_SECRET_ARN: {"username","password"} of the broker
	mqEndpoint  string // NARWHAL_MQ_ENDPOINT: amqps://host:5671, with NARWHAL_MQ_SECRET_ARN
	amqpPrefix  string // NARWHAL_AMQP_PREFIX: prefix of exchange and queue names ("" in production)

	webhookSecret    string // NARWHAL_WEBHOOK_SECRET: the secret(s) themselves, for local use
	webhookSecretARN string // NARWHAL_WEBHOOK_SECRET_ARN: the Secrets Manager secret holding them

	logLevel slog.Level // NARWHAL_LOG_LEVEL: debug, info (default), warn, error
}

// configFromEnv reads the configuration through getenv and checks that every
// dependency has exactly one source.
func configFromEnv(getenv func(string) string) (config, error) {
	c := config{
		table:   getenv("NARWHAL_TABLE"),
		amqpURL: getenv("NARWHAL_AMQP_URL"), mqSecretARN: getenv("NARWHAL_MQ_SECRET_ARN"),
		mqEndpoint: getenv("NARWHAL_MQ_ENDPOINT"), amqpPrefix: getenv("NARWHAL_AMQP_PREFIX"),
		webhookSecret: getenv("NARWHAL_WEBHOOK_SECRET"), webhookSecretARN: getenv("NARWHAL_WEBHOOK_SECRET_ARN"),
	}
	var problems []error
	if c.table == "" {
		problems = append(problems, errors.New("NARWHAL_TABLE is required"))
	}
	if (c.amqpURL == "") == (c.mqSecretARN == "") {
		problems = append(problems, errors.New("set exactly one of NARWHAL_AMQP_URL and NARWHAL_MQ_SECRET_ARN"))
	}
	if c.mqSecretARN != "" && c.mqEndpoint == "" {
		problems = append(problems, errors.New("NARWHAL_MQ_SECRET_ARN needs NARWHAL_MQ_ENDPOINT"))
	}
	if (c.webhookSecret == "") == (c.webhookSecretARN == "") {
		problems = append(problems, errors.New("set exactly one of NARWHAL_WEBHOOK_SECRET and NARWHAL_WEBHOOK_SECRET_ARN"))
	}
	if c.webhookSecret != "" && len(webhook.SecretLines(c.webhookSecret)) == 0 {
		problems = append(problems, errors.New("NARWHAL_WEBHOOK_SECRET holds no secret (only line breaks)"))
	}
	if lvl := getenv("NARWHAL_LOG_LEVEL"); lvl != "" {
		if err := c.logLevel.UnmarshalText([]byte(lvl)); err != nil {
			problems = append(problems, fmt.Errorf("NARWHAL_LOG_LEVEL: %w", err))
		}
	}
	if err := errors.Join(problems...); err != nil {
		return config{}, fmt.Errorf("agent configuration: %w", err)
	}
	return c, nil
}
