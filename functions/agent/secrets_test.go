package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestManagedSecretsOnMoto reads a rotated webhook secret from Secrets
// Manager (moto_server), caches it for the TTL, and verifies webhooks with it.
func TestManagedSecretsOnMoto(t *testing.T) {
	testenv.AWSEndpoint(t)
	ctx := context.Background()
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	client := secretsmanager.NewFromConfig(cfg)
	var b [4]byte
	rand.Read(b[:])
	name := "narwhal/test/webhook-" + hex.EncodeToString(b[:])
	out, err := client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(name), SecretString: aws.String("first-secret"),
	})
	if err != nil {
		t.Fatalf("create secret: %v", err)
	}
	t.Cleanup(func() {
		client.DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{
			SecretId: out.ARN, ForceDeleteWithoutRecovery: aws.Bool(true)})
	})

	clock := &testClock{t: time.Now()}
	secrets := NewManagedSecrets(client, *out.ARN, time.Minute, clock.now)
	e := newEdge(t, secrets)
	send := func(secret, sha string) int {
		status, _ := e.send(t, hook{event: "push", id: sha, body: pushBody(t, sha, "x"), secret: secret}.v2(), events.APIGatewayV2HTTPResponse{})
		return status
	}
	if s := send("first-secret", "a1"); s != 202 {
		t.Fatalf("signed with the stored secret: %d", s)
	}
	// Rotate: the new secret first, the old one still accepted.
	if _, err := client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: out.ARN, SecretString: aws.String(`["second,secret", "first-secret"]`)}); err != nil {
		t.Fatal(err)
	}
	if s := send("second,secret", "a2"); s != 401 {
		t.Fatalf("within the TTL the rotated secret is not known yet: got %d, want 401", s)
	}
	clock.add(2 * time.Minute)
	if s := send("second,secret", "a3"); s != 202 {
		t.Fatalf("after the TTL, signed with the new secret: %d", s)
	}
	if s := send("second", "a3b"); s != 401 {
		t.Fatalf("signed with the part of a secret before its comma: %d, want 401", s)
	}
	if s := send("first-secret", "a4"); s != 202 {
		t.Fatalf("after the TTL, signed with the old secret: %d", s)
	}
	// The secret disappears: the cached value keeps serving.
	client.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: out.ARN, ForceDeleteWithoutRecovery: aws.Bool(true)})
	clock.add(2 * time.Minute)
	if s := send("second,secret", "a5"); s != 202 {
		t.Fatalf("refresh failed, cached secrets should still serve: %d", s)
	}
	// A secret that never existed: 500, nothing stored.
	missing := newEdge(t, NewManagedSecrets(client, name+"-missing", 0, nil))
	status, _ := missing.send(t, hook{event: "push", id: "m", body: pushBody(t, "b1", "x")}.v2(), events.APIGatewayV2HTTPResponse{})
	if status != 500 || missing.jobs(t) != 0 {
		t.Fatalf("missing secret: %d, want 500 and nothing stored", status)
	}
}
