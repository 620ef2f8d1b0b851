// Package secretcache keeps the secrets a Lambda function reads from AWS
// Secrets Manager across its warm invocations: Cache has the client's
// GetSecretValue and answers a secret it read less than TTL ago from
// memory, so an execution environment reads each secret once per TTL
// however many invocations, jobs or reconnects ask for it, and a rotation
// reaches it within TTL. When a refresh fails it answers with what it has;
// it fails only for a secret it never read. Whatever fetches a secret in a
// function takes the Cache in place of the client.
package secretcache

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// DefaultTTL is how long a secret is kept when New is given 0.
const DefaultTTL = 5 * time.Minute

// API is the call the cache wraps (and offers): *secretsmanager.Client's.
type API interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput,
		opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Cache is safe for concurrent use; concurrent misses of one secret read it
// once.
type Cache struct {
	next API
	ttl  time.Duration
	now  func() time.Time

	mu      sync.Mutex // held while reading a secret
	entries map[key]entry
}

// key tells secrets apart: the ID and the version asked for.
type key struct{ id, versionID, stage string }

type entry struct {
	out *secretsmanager.GetSecretValueOutput
	at  time.Time
}

var _ API = (*Cache)(nil)

// New wraps next; ttl 0 means DefaultTTL.
func New(next API, ttl time.Duration) *Cache {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Cache{next: next, ttl: ttl, now: time.Now, entries: map[key]entry{}}
}

// GetSecretValue answers from the cache while the secret is fresh, and
// reads it through otherwise.
func (c *Cache) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput,
	opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	k := key{aws.ToString(in.SecretId), aws.ToString(in.VersionId), aws.ToString(in.VersionStage)}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if ok && c.now().Sub(e.at) < c.ttl {
		return e.out, nil
	}
	out, err := c.next.GetSecretValue(ctx, in, opts...)
	if err != nil {
		if ok {
			return e.out, nil // stale beats none: the secret was valid a moment ago
		}
		return nil, err
	}
	c.entries[k] = entry{out: out, at: c.now()}
	return out, nil
}
