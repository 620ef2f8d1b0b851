package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// config is the dispatcher's configuration, read from the environment
// (docs/deploy.md lists the variables). A value and its *_SECRET_ARN are two
// sources of the same setting: exactly one may be set.
type config struct {
	table string // NARWHAL_TABLE: the DynamoDB table

	amqpURL     string // NARWHAL_AMQP_URL: amqp(s)://user:pass@host:port/vhost
	mqSecretARN string // NARWHAL_MQ_SECRET_ARN: {"username","password"} of the broker
	mqEndpoint  string // NARWHAL_MQ_ENDPOINT: amqps://host:5671, with NARWHAL_MQ_SECRET_ARN
	amqpPrefix  string // NARWHAL_AMQP_PREFIX: prefix of exchange and queue names ("" in production)

	logBucket, logPrefix string // NARWHAL_LOG_BUCKET, NARWHAL_LOG_PREFIX (default "logs", as runnerd)
	// NARWHAL_ARTIFACTS_BUCKET, NARWHAL_ARTIFACTS_PREFIX: where runnerd puts
	// the jobs' artifacts (its artifacts.s3_bucket, s3_prefix, default "");
	// no bucket: the API lists artifacts but serves none, and the monitor
	// sweeps none.
	artifactBucket, artifactPrefix string

	runnerToken secretSource // NARWHAL_RUNNER_TOKEN[_SECRET_ARN]: the runners' fleet key(s), comma or newline separated (runnerkey)
	runnerCA    string       // NARWHAL_RUNNER_CA: PEM (or base64 of it) trusted for runners
	runnerName  string       // NARWHAL_RUNNER_SERVER_NAME: name checked in runner certificates ("" = host)
	githubToken secretSource // NARWHAL_GITHUB_TOKEN[_SECRET_ARN]: clones, commit statuses, narwhal.yml
	githubURL   string       // NARWHAL_GITHUB_URL: API root of GitHub Enterprise ("" = github.com)
	// A GitHub App instead of a token (docs/secrets.md): its ID, private key
	// (PEM or its base64) and optionally the one installation to use.
	githubAppID      int64        // NARWHAL_GITHUB_APP_ID
	githubAppKey     secretSource // NARWHAL_GITHUB_APP_KEY[_SECRET_ARN]
	githubAppInstall int64        // NARWHAL_GITHUB_APP_INSTALLATION_ID (0: found per repository)
	apiTokens        secretSource // NARWHAL_API_TOKENS[_SECRET_ARN]: REST API bearer tokens, comma or newline separated
	publicURL        string       // NARWHAL_PUBLIC_URL: base URL of the REST API, for status links

	secretsPrefix string // NARWHAL_SECRETS_PREFIX: name prefix of the repositories' secrets in Secrets Manager ("" = awssm.DefaultPrefix)

	logLevel slog.Level // NARWHAL_LOG_LEVEL: debug, info (default), warn, error
	// NARWHAL_CANCEL_SUPERSEDED_PUSHES: true makes a new push cancel the older
	// unfinished jobs of its branch (dispatch.Config.CancelSupersededPushes)
	cancelSupersededPushes bool
}

// secretSource is a setting given directly or as a Secrets Manager secret.
type secretSource struct{ value, arn string }

// configFromEnv reads the configuration through getenv and checks that every
// required setting has exactly one source.
func configFromEnv(getenv func(string) string) (config, error) {
	c := config{
		table:   getenv("NARWHAL_TABLE"),
		amqpURL: getenv("NARWHAL_AMQP_URL"), mqSecretARN: getenv("NARWHAL_MQ_SECRET_ARN"),
		mqEndpoint: getenv("NARWHAL_MQ_ENDPOINT"), amqpPrefix: getenv("NARWHAL_AMQP_PREFIX"),
		logBucket: getenv("NARWHAL_LOG_BUCKET"), logPrefix: getenv("NARWHAL_LOG_PREFIX"),
		artifactBucket: getenv("NARWHAL_ARTIFACTS_BUCKET"), artifactPrefix: getenv("NARWHAL_ARTIFACTS_PREFIX"),
		runnerToken: secretSource{getenv("NARWHAL_RUNNER_TOKEN"), getenv("NARWHAL_RUNNER_TOKEN_SECRET_ARN")},
		runnerCA:    getenv("NARWHAL_RUNNER_CA"), runnerName: getenv("NARWHAL_RUNNER_SERVER_NAME"),
		githubToken:  secretSource{getenv("NARWHAL_GITHUB_TOKEN"), getenv("NARWHAL_GITHUB_TOKEN_SECRET_ARN")},
		githubURL:    getenv("NARWHAL_GITHUB_URL"),
		githubAppKey: secretSource{getenv("NARWHAL_GITHUB_APP_KEY"), getenv("NARWHAL_GITHUB_APP_KEY_SECRET_ARN")},
		apiTokens:    secretSource{getenv("NARWHAL_API_TOKENS"), getenv("NARWHAL_API_TOKENS_SECRET_ARN")},
		publicURL:    getenv("NARWHAL_PUBLIC_URL"), secretsPrefix: getenv("NARWHAL_SECRETS_PREFIX"),
	}
	if c.logPrefix == "" {
		c.logPrefix = "logs"
	}
	problems := append(c.check(), c.readApp(getenv)...)
	if lvl := getenv("NARWHAL_LOG_LEVEL"); lvl != "" {
		if err := c.logLevel.UnmarshalText([]byte(lvl)); err != nil {
			problems = append(problems, fmt.Errorf("NARWHAL_LOG_LEVEL: %w", err))
		}
	}
	if v := getenv("NARWHAL_CANCEL_SUPERSEDED_PUSHES"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			problems = append(problems, fmt.Errorf("NARWHAL_CANCEL_SUPERSEDED_PUSHES: want true or false, got %q", v))
		}
		c.cancelSupersededPushes = b
	}
	if err := errors.Join(problems...); err != nil {
		return config{}, fmt.Errorf("dispatcher configuration: %w", err)
	}
	return c, nil
}

func (c config) check() []error {
	var problems []error
	required := func(v, name string) {
		if v == "" {
			problems = append(problems, errors.New(name+" is required"))
		}
	}
	required(c.table, "NARWHAL_TABLE")
	required(c.logBucket, "NARWHAL_LOG_BUCKET")
	required(c.runnerCA, "NARWHAL_RUNNER_CA")
	if (c.amqpURL == "") == (c.mqSecretARN == "") {
		problems = append(problems, errors.New("set exactly one of NARWHAL_AMQP_URL and NARWHAL_MQ_SECRET_ARN"))
	}
	if c.mqSecretARN != "" && c.mqEndpoint == "" {
		problems = append(problems, errors.New("NARWHAL_MQ_SECRET_ARN needs NARWHAL_MQ_ENDPOINT"))
	}
	if c.artifactPrefix != "" && c.artifactBucket == "" {
		problems = append(problems, errors.New("NARWHAL_ARTIFACTS_PREFIX needs NARWHAL_ARTIFACTS_BUCKET"))
	}
	if (c.runnerToken.value == "") == (c.runnerToken.arn == "") {
		problems = append(problems, errors.New("set exactly one of NARWHAL_RUNNER_TOKEN and NARWHAL_RUNNER_TOKEN_SECRET_ARN"))
	}
	for name, s := range map[string]secretSource{"NARWHAL_GITHUB_TOKEN": c.githubToken, "NARWHAL_API_TOKENS": c.apiTokens,
		"NARWHAL_GITHUB_APP_KEY": c.githubAppKey} {
		if s.value != "" && s.arn != "" {
			problems = append(problems, fmt.Errorf("set at most one of %s and %s_SECRET_ARN", name, name))
		}
	}
	return problems
}

// secretsAPI is the part of the Secrets Manager client the dispatcher uses.
type secretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput,
		opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// resolve returns the setting's value, reading the secret when it lives in
// Secrets Manager; "" when neither is set.
func (s secretSource) resolve(ctx context.Context, sm secretsAPI) (string, error) {
	if s.arn == "" {
		return s.value, nil
	}
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.arn)})
	if err != nil {
		return "", fmt.Errorf("read secret %s: %w", s.arn, err)
	}
	return strings.TrimSpace(aws.ToString(out.SecretString)), nil
}

// readApp reads the GitHub App settings: an App ID needs a key and the
// other way round, and an App excludes a token.
func (c *config) readApp(getenv func(string) string) []error {
	id, inst := getenv("NARWHAL_GITHUB_APP_ID"), getenv("NARWHAL_GITHUB_APP_INSTALLATION_ID")
	problems := append(positive("NARWHAL_GITHUB_APP_ID", id, &c.githubAppID),
		positive("NARWHAL_GITHUB_APP_INSTALLATION_ID", inst, &c.githubAppInstall)...)
	hasKey := c.githubAppKey.value != "" || c.githubAppKey.arn != ""
	if (id != "") != hasKey {
		problems = append(problems, errors.New("a GitHub App needs both NARWHAL_GITHUB_APP_ID and NARWHAL_GITHUB_APP_KEY[_SECRET_ARN]"))
	}
	if hasKey && (c.githubToken.value != "" || c.githubToken.arn != "") {
		problems = append(problems, errors.New("set a GitHub App or NARWHAL_GITHUB_TOKEN[_SECRET_ARN], not both"))
	}
	return problems
}

// positive parses v, when set, into dst as a positive number.
func positive(name, v string, dst *int64) []error {
	if v == "" {
		return nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return []error{fmt.Errorf("%s: want a positive number, not %q", name, v)}
	}
	*dst = n
	return nil
}

// pemBytes accepts a PEM block as it is or base64-encoded (easier to pass
// through a CloudFormation parameter, which keeps no newlines); name says
// which setting is wrong.
func pemBytes(name, s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-----BEGIN") {
		return []byte(s + "\n"), nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || !strings.HasPrefix(string(b), "-----BEGIN") {
		return nil, errors.New(name + ": want PEM, or its base64")
	}
	return b, nil
}

// splitTokens splits a list of tokens on commas and newlines.
func splitTokens(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
