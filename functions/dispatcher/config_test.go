package main

import (
	"encoding/base64"
	"log/slog"
	"reflect"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// minimal is the smallest valid configuration.
func minimal() map[string]string {
	return map[string]string{"NARWHAL_TABLE": "t", "NARWHAL_AMQP_URL": "amqp://x", "NARWHAL_LOG_BUCKET": "b",
		"NARWHAL_RUNNER_TOKEN": "tok", "NARWHAL_RUNNER_CA": "-----BEGIN CERTIFICATE-----"}
}

func with(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	c, err := configFromEnv(env(with(minimal(), "NARWHAL_LOG_LEVEL", "debug", "NARWHAL_API_TOKENS_SECRET_ARN", "arn:api")))
	if err != nil || c.table != "t" || c.logPrefix != "logs" || c.logLevel != slog.LevelDebug || c.apiTokens.arn != "arn:api" {
		t.Fatalf("%+v %v", c, err)
	}
	bad := []struct {
		env  map[string]string
		want string
	}{
		{with(minimal(), "NARWHAL_TABLE", ""), "NARWHAL_TABLE"},
		{with(minimal(), "NARWHAL_LOG_BUCKET", ""), "NARWHAL_LOG_BUCKET"},
		{with(minimal(), "NARWHAL_RUNNER_CA", ""), "NARWHAL_RUNNER_CA"},
		{with(minimal(), "NARWHAL_AMQP_URL", ""), "NARWHAL_AMQP_URL"},
		{with(minimal(), "NARWHAL_MQ_SECRET_ARN", "arn"), "exactly one"},
		{with(minimal(), "NARWHAL_AMQP_URL", "", "NARWHAL_MQ_SECRET_ARN", "arn"), "NARWHAL_MQ_ENDPOINT"},
		{with(minimal(), "NARWHAL_RUNNER_TOKEN", ""), "NARWHAL_RUNNER_TOKEN"},
		{with(minimal(), "NARWHAL_RUNNER_TOKEN_SECRET_ARN", "arn"), "NARWHAL_RUNNER_TOKEN"},
		{with(minimal(), "NARWHAL_GITHUB_TOKEN", "g", "NARWHAL_GITHUB_TOKEN_SECRET_ARN", "arn"), "NARWHAL_GITHUB_TOKEN"},
		{with(minimal(), "NARWHAL_LOG_LEVEL", "loud"), "NARWHAL_LOG_LEVEL"},
		{with(minimal(), "NARWHAL_GITHUB_APP_ID", "12"), "needs both"},
		{with(minimal(), "NARWHAL_GITHUB_APP_KEY_SECRET_ARN", "arn"), "needs both"},
		{with(minimal(), "NARWHAL_GITHUB_APP_ID", "x", "NARWHAL_GITHUB_APP_KEY", "k"), "NARWHAL_GITHUB_APP_ID"},
		{with(minimal(), "NARWHAL_GITHUB_APP_ID", "1", "NARWHAL_GITHUB_APP_KEY", "k", "NARWHAL_GITHUB_APP_INSTALLATION_ID", "-3"), "NARWHAL_GITHUB_APP_INSTALLATION_ID"},
		{with(minimal(), "NARWHAL_GITHUB_APP_ID", "1", "NARWHAL_GITHUB_APP_KEY", "k", "NARWHAL_GITHUB_TOKEN", "g"), "not both"},
		{with(minimal(), "NARWHAL_GITHUB_APP_KEY", "k", "NARWHAL_GITHUB_APP_KEY_SECRET_ARN", "arn"), "NARWHAL_GITHUB_APP_KEY"},
		{with(minimal(), "NARWHAL_CANCEL_SUPERSEDED_PUSHES", "sometimes"), "NARWHAL_CANCEL_SUPERSEDED_PUSHES"},
		{with(minimal(), "NARWHAL_ARTIFACTS_PREFIX", "ci"), "NARWHAL_ARTIFACTS_BUCKET"},
	}
	for _, tc := range bad {
		if _, err := configFromEnv(env(tc.env)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error naming %s", tc.env, err, tc.want)
		}
	}
}

func TestArtifactsConfig(t *testing.T) {
	t.Parallel()
	c, err := configFromEnv(env(minimal()))
	if err != nil || c.artifactBucket != "" || c.artifactPrefix != "" {
		t.Fatalf("default: %+v %v", c, err)
	}
	c, err = configFromEnv(env(with(minimal(), "NARWHAL_ARTIFACTS_BUCKET", "arts", "NARWHAL_ARTIFACTS_PREFIX", "ci")))
	if err != nil || c.artifactBucket != "arts" || c.artifactPrefix != "ci" {
		t.Fatalf("set: %+v %v", c, err)
	}
}

func TestCancelSupersededPushes(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]bool{"": false, "false": false, "true": true, "1": true} {
		c, err := configFromEnv(env(with(minimal(), "NARWHAL_CANCEL_SUPERSEDED_PUSHES", v)))
		if err != nil || c.cancelSupersededPushes != want {
			t.Errorf("%q: %v, %v; want %v", v, c.cancelSupersededPushes, err, want)
		}
	}
}

func TestPEMBytes(t *testing.T) {
	t.Parallel()
	pem := "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"
	for _, in := range []string{pem, base64.StdEncoding.EncodeToString([]byte(pem)), "  " + pem + "\n"} {
		if got, err := pemBytes("NARWHAL_RUNNER_CA", in); err != nil || !strings.HasPrefix(string(got), "-----BEGIN CERTIFICATE-----\nMIIB") {
			t.Errorf("pemBytes(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "not pem", base64.StdEncoding.EncodeToString([]byte("plain"))} {
		if _, err := pemBytes("NARWHAL_RUNNER_CA", in); err == nil {
			t.Errorf("pemBytes(%q) accepted", in)
		}
	}
}

func TestSplitTokens(t *testing.T) {
	t.Parallel()
	if got := splitTokens(" a,b\n\nc , "); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Fatalf("%q", got)
	}
}
