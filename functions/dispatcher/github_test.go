package main

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/narwhal-ci/narwhal/internal/dispatch"
	"github.com/narwhal-ci/narwhal/internal/testenv"
	"github.com/narwhal-ci/narwhal/internal/testenv/ghapi"
)

// TestGitHubAppFromSecretsManager: the App's key, base64 in a Secrets
// Manager secret (moto), is read with the other secrets at start, and the
// dispatcher's clone credentials, statuses and narwhal.yml reads all use the
// App's installation tokens.
func TestGitHubAppFromSecretsManager(t *testing.T) {
	testenv.AWSEndpoint(t)
	stand := ghapi.New(t, time.Hour, "acme/app")
	ctx := context.Background()
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sm := secretsmanager.NewFromConfig(awsCfg)
	out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String("narwhal-app-key-" + strconv.FormatInt(time.Now().UnixNano(), 36)),
		SecretString: aws.String(base64.StdEncoding.EncodeToString(stand.KeyPEM())),
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := configFromEnv(env(with(minimal(), "NARWHAL_GITHUB_APP_ID", strconv.Itoa(ghapi.AppID),
		"NARWHAL_GITHUB_APP_KEY_SECRET_ARN", aws.ToString(out.ARN), "NARWHAL_GITHUB_URL", stand.URL)))
	if err != nil {
		t.Fatal(err)
	}
	sec, err := readSecrets(ctx, cfg, sm)
	if err != nil {
		t.Fatal(err)
	}
	var deps dispatch.Deps
	if err := withGitHub(&deps, cfg, sec); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimSuffix(strings.TrimPrefix(stand.URL, "http://"), "/")
	tok, err := deps.Credentials.CloneToken(ctx, "acme/app", "https://"+host+"/acme/app.git")
	if err != nil || !stand.Valid(tok, "acme/app") {
		t.Fatalf("clone token %q, %v: want one the App minted", tok, err)
	}
	if deps.Status == nil || deps.Config == nil {
		t.Fatal("no status reporter or narwhal.yml reader with a GitHub App")
	}
}

func TestNoGitHubWithoutCredentials(t *testing.T) {
	t.Parallel()
	var deps dispatch.Deps
	if err := withGitHub(&deps, config{}, secrets{}); err != nil || deps.Credentials != nil || deps.Status != nil {
		t.Errorf("without App or token: %+v, %v", deps, err)
	}
	if err := withGitHub(&deps, config{githubAppID: 3}, secrets{githubAppKey: "not pem"}); err == nil {
		t.Error("a bad App key was accepted")
	}
}
