package lambdatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/testenv"

	narwhalamqp "github.com/narwhal-ci/narwhal/internal/queue/amqp"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go/logging"

	"github.com/narwhal-ci/narwhal/internal/store/dynamo"
)

// The test's own AWS resources and broker prefix, on moto_server and the
// test RabbitMQ (testenv.AWSEndpoint and testenv.AMQPURL must have run).
type services struct {
	id      string
	awsCfg  aws.Config
	table   string
	store   *dynamo.Store
	amqpURL string
	prefix  string
}

func newServices(t testing.TB, amqpURL string) *services {
	t.Helper()
	ctx := context.Background()
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	awsCfg.Logger = logging.Nop{} // the SDK's warnings about moto's answers would cut through benchmark lines
	s := &services{id: randomID(), awsCfg: awsCfg, amqpURL: amqpURL}
	s.table, s.prefix = "narwhal-lambdatest-"+s.id, "lambdatest-"+s.id+"."
	db := dynamodb.NewFromConfig(awsCfg)
	s.store = dynamo.New(db, s.table)
	if err := s.store.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(s.table)})
		deleteTopology(t, amqpURL, s.prefix)
	})
	return s
}

// secret stores value in Secrets Manager and returns its ARN.
func (s *services) secret(t testing.TB, name, value string) string {
	t.Helper()
	sm := secretsmanager.NewFromConfig(s.awsCfg)
	out, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: aws.String("narwhal/lambdatest/" + s.id + "/" + name), SecretString: aws.String(value)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sm.DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{
			SecretId: out.ARN, ForceDeleteWithoutRecovery: aws.Bool(true)})
	})
	return *out.ARN
}

// drain takes every message off a queue (prefix added) and returns their
// bodies.
func (s *services) drain(t *testing.T, name string) []map[string]any {
	t.Helper()
	ch, closeConn := testenv.AMQPChannel(t, s.amqpURL)
	defer closeConn()
	var bodies []map[string]any
	for {
		m, ok, err := ch.Get(s.prefix+name, true)
		if err != nil {
			t.Fatalf("get from %s: %v", s.prefix+name, err)
		}
		if !ok {
			return bodies
		}
		var body map[string]any
		json.Unmarshal(m.Body, &body)
		bodies = append(bodies, body)
	}
}

// depth is the number of ready messages on a queue (prefix added).
func (s *services) depth(t *testing.T, name string) int {
	t.Helper()
	ch, closeConn := testenv.AMQPChannel(t, s.amqpURL)
	defer closeConn()
	q, err := ch.QueueDeclarePassive(s.prefix+name, true, false, false, false, nil)
	if err != nil {
		t.Fatalf("inspect %s: %v", s.prefix+name, err)
	}
	return q.Messages
}

// sample reads a file of events/.
func sample(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(RepoRoot(t), "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func randomID() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// deleteTopology removes what amqp.New declared under prefix; names that
// were never declared are no error.
func deleteTopology(t testing.TB, url, prefix string) {
	if err := narwhalamqp.DeleteTopology(narwhalamqp.Config{URL: url, Prefix: prefix}); err != nil {
		t.Errorf("delete topology: %v", err)
	}
}
