package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/narwhal-ci/narwhal/internal/awscount"
	"github.com/narwhal-ci/narwhal/internal/queue/amqp"
	"github.com/narwhal-ci/narwhal/internal/store/dynamo"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	ok := map[string]string{"NARWHAL_TABLE": "narwhal", "NARWHAL_AMQP_URL": "amqp://x", "NARWHAL_WEBHOOK_SECRET": "s"}
	if c, err := configFromEnv(env(ok)); err != nil || c.table != "narwhal" || c.amqpURL != "amqp://x" {
		t.Fatalf("%+v %v", c, err)
	}
	mq := map[string]string{"NARWHAL_TABLE": "t", "NARWHAL_MQ_SECRET_ARN": "arn:mq", "NARWHAL_MQ_ENDPOINT": "amqps://b:5671",
		"NARWHAL_WEBHOOK_SECRET_ARN": "arn:wh", "NARWHAL_LOG_LEVEL": "debug"}
	if c, err := configFromEnv(env(mq)); err != nil || c.mqSecretARN != "arn:mq" || c.logLevel != slog.LevelDebug {
		t.Fatalf("%+v %v", c, err)
	}
	bad := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"NARWHAL_AMQP_URL": "a", "NARWHAL_WEBHOOK_SECRET": "s"}, "NARWHAL_TABLE"},
		{map[string]string{"NARWHAL_TABLE": "t", "NARWHAL_WEBHOOK_SECRET": "s"}, "NARWHAL_AMQP_URL"},
		{map[string]string{"NARWHAL_TABLE": "t", "NARWHAL_AMQP_URL": "a", "NARWHAL_MQ_SECRET_ARN": "b", "NARWHAL_WEBHOOK_SECRET": "s"}, "exactly one"},
		{map[string]string{"NARWHAL_TABLE": "t", "NARWHAL_MQ_SECRET_ARN": "b", "NARWHAL_WEBHOOK_SECRET": "s"}, "NARWHAL_MQ_ENDPOINT"},
		{map[string]string{"NARWHAL_TABLE": "t", "NARWHAL_AMQP_URL": "a"}, "NARWHAL_WEBHOOK_SECRET"},
		{map[string]string{"NARWHAL_TABLE": "t", "NARWHAL_AMQP_URL": "a", "NARWHAL_WEBHOOK_SECRET": "\n\r\n"}, "holds no secret"},
		{map[string]string{"NARWHAL_TABLE": "t", "NARWHAL_AMQP_URL": "a", "NARWHAL_WEBHOOK_SECRET": "s", "NARWHAL_LOG_LEVEL": "loud"}, "NARWHAL_LOG_LEVEL"},
	}
	for _, tc := range bad {
		if _, err := configFromEnv(env(tc.env)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error naming %s", tc.env, err, tc.want)
		}
	}
}

// TestBuildOnMotoAndRabbitMQ wires the agent as Lambda does, from the
// environment, against DynamoDB and Secrets Manager on moto_server and the
// test RabbitMQ (its credentials read from Secrets Manager too), and sends it
// the events/push.json sample.
func TestBuildOnMotoAndRabbitMQ(t *testing.T) {
	testenv.AWSEndpoint(t)
	amqpURL, err := url.Parse(testenv.AMQPURL(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := randomID()
	store := dynamo.New(dynamodb.NewFromConfig(awsCfg), "narwhal-agent-test-"+id)
	if err := store.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dynamodb.NewFromConfig(awsCfg).DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String("narwhal-agent-test-" + id)})
	})
	pass, _ := amqpURL.User.Password()
	mqCred, _ := json.Marshal(map[string]string{"username": amqpURL.User.Username(), "password": pass})
	endpoint := *amqpURL
	endpoint.User = nil
	cfg := config{
		table: "narwhal-agent-test-" + id, amqpPrefix: "agent-main-test-" + id + ".",
		mqSecretARN: createSecret(t, awsCfg, "mq-"+id, string(mqCred)), mqEndpoint: endpoint.String(),
		webhookSecretARN: createSecret(t, awsCfg, "webhook-"+id, `["old-secret", "narwhal-test-secret"]`),
	}
	t.Cleanup(func() {
		if err := amqp.DeleteTopology(amqp.Config{URL: testenv.AMQPURL(t), Prefix: cfg.amqpPrefix}); err != nil {
			t.Errorf("delete topology: %v", err)
		}
	})

	calls := &awscount.Counter{Indexes: dynamo.IndexKeys()}
	h, err := build(ctx, cfg, slog.New(slog.DiscardHandler), calls)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../../events/push.json")
	if err != nil {
		t.Fatal(err)
	}
	// Through aws-lambda-go's handler wrapper, as lambda.Start runs it.
	out, err := lambda.NewHandler(h).Invoke(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	var v2 events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &v2); err != nil || v2.StatusCode != 202 || !strings.Contains(v2.Body, `"published":true`) {
		t.Fatalf("response %s (%v)", out, err)
	}
	var body struct {
		JobID string `json:"job_id"`
	}
	json.Unmarshal([]byte(v2.Body), &body)
	j, err := store.GetJob(ctx, body.JobID)
	if err != nil || !j.Published || j.Repo != "narwhal-ci/hello-narwhal" {
		t.Fatalf("stored job %+v (%v)", j, err)
	}
	// The middleware saw the webhook's calls: the two secrets, the claim of
	// the job's build number (after the repository's last, a Query), the job
	// created and marked published (each in the table and 5 indexes).
	tally := calls.Take()
	if tally.Calls["Secrets Manager.GetSecretValue"] != 2 || tally.Calls["DynamoDB.PutItem"] != 3 ||
		tally.Calls["DynamoDB.Query"] != 1 || tally.WriteUnits < 13 {
		t.Errorf("AWS calls of one webhook: %+v", tally)
	}
}

func randomID() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func createSecret(t *testing.T, awsCfg aws.Config, name, value string) string {
	t.Helper()
	sm := secretsmanager.NewFromConfig(awsCfg)
	out, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: aws.String("narwhal/test/" + name), SecretString: aws.String(value)})
	if err != nil {
		t.Fatalf("create secret %s: %v", name, err)
	}
	t.Cleanup(func() {
		sm.DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{
			SecretId: out.ARN, ForceDeleteWithoutRecovery: aws.Bool(true)})
	})
	return *out.ARN
}
