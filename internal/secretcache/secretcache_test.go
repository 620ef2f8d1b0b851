package secretcache

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go/middleware"

	"github.com/narwhal-ci/narwhal/internal/awscount"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// TestCacheOnMoto: reads within the TTL cost one GetSecretValue; a rotation
// shows after it; a failed refresh keeps the last value; an unknown secret
// is an error.
func TestCacheOnMoto(t *testing.T) {
	testenv.AWSEndpoint(t)
	ctx := context.Background()
	calls := &awscount.Counter{}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithAPIOptions([]func(*middleware.Stack) error{calls.Register}))
	if err != nil {
		t.Fatal(err)
	}
	sm := secretsmanager.NewFromConfig(cfg)
	name := "narwhal/secretcache-test/" + rand.Text()[:8]
	created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: &name, SecretString: aws.String("one")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: created.ARN, ForceDeleteWithoutRecovery: aws.Bool(true)})
	})
	now := time.Now()
	c := New(sm, time.Minute)
	c.now = func() time.Time { return now }
	read := func() string {
		t.Helper()
		out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: created.ARN})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.SecretString)
	}
	for range 5 {
		if v := read(); v != "one" {
			t.Fatalf("read %q", v)
		}
	}
	if n := calls.Take().Calls["Secrets Manager.GetSecretValue"]; n != 1 {
		t.Fatalf("5 reads within the TTL made %d calls, want 1", n)
	}
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: created.ARN, SecretString: aws.String("two")}); err != nil {
		t.Fatal(err)
	}
	if v := read(); v != "one" {
		t.Fatalf("within the TTL: %q, want the cached one", v)
	}
	now = now.Add(time.Minute)
	if v := read(); v != "two" {
		t.Fatalf("after the TTL: %q, want the rotated two", v)
	}
	c.next = failing{}
	now = now.Add(time.Minute)
	if v := read(); v != "two" {
		t.Fatalf("failed refresh: %q, want the last value", v)
	}
	if _, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("never-read")}); err == nil {
		t.Fatal("a secret never read and unreachable: no error")
	}
}

type failing struct{}

func (failing) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput,
	...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return nil, context.DeadlineExceeded
}
