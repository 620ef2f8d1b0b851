package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/narwhal-ci/narwhal/internal/webhook"
)

// SecretsAPI is the part of the Secrets Manager client that ManagedSecrets
// and the broker dialer use.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput,
		opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// DefaultSecretTTL is how long ManagedSecrets keeps a fetched secret.
const DefaultSecretTTL = 5 * time.Minute

// ManagedSecrets is the webhook.SecretSource of NARWHAL_WEBHOOK_SECRET_ARN: it
// reads the webhook secrets from AWS Secrets Manager (a
// SecretString holding one secret, or a JSON list of them while rotating: webhook.SecretValue) and caches them for TTL, so a warm
// Lambda fetches at most once per TTL and a rotation is picked up within it.
// When a refresh fails it keeps answering with the secrets it has; it fails
// only when it never fetched any. Create it with NewManagedSecrets.
type ManagedSecrets struct {
	client   SecretsAPI
	secretID string
	ttl      time.Duration
	now      func() time.Time

	mu      sync.Mutex // held while fetching, so concurrent callers fetch once
	cached  webhook.StaticSecrets
	fetched time.Time
}

// NewManagedSecrets returns a cache of secret secretID (a name or an ARN). A
// ttl of zero means DefaultSecretTTL; now may be nil (time.Now).
func NewManagedSecrets(client SecretsAPI, secretID string, ttl time.Duration, now func() time.Time) *ManagedSecrets {
	if ttl <= 0 {
		ttl = DefaultSecretTTL
	}
	if now == nil {
		now = time.Now
	}
	return &ManagedSecrets{client: client, secretID: secretID, ttl: ttl, now: now}
}

// Secrets returns the cached secrets, fetching them when they are older than the TTL.
func (m *ManagedSecrets) Secrets(ctx context.Context) ([][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cached != nil && m.now().Sub(m.fetched) < m.ttl {
		return m.cached, nil
	}
	fresh, err := m.fetch(ctx)
	if err != nil {
		if m.cached != nil {
			return m.cached, nil
		}
		return nil, err
	}
	m.cached, m.fetched = fresh, m.now()
	return m.cached, nil
}

func (m *ManagedSecrets) fetch(ctx context.Context) (webhook.StaticSecrets, error) {
	out, err := m.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &m.secretID})
	if err != nil {
		return nil, fmt.Errorf("get webhook secret %s: %w", m.secretID, err)
	}
	if out.SecretString == nil {
		return nil, fmt.Errorf("webhook secret %s: %w", m.secretID, errNoSecretString)
	}
	secrets := webhook.SecretValue(*out.SecretString)
	if len(secrets) == 0 {
		return nil, fmt.Errorf("webhook secret %s: %w", m.secretID, errNoSecretString)
	}
	return secrets, nil
}

var errNoSecretString = errors.New("no secret string (binary secrets are not supported)")
