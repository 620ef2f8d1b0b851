// Package awssm is the secrets.Backend on AWS Secrets Manager: one secret
// per repository, named Prefix + "owner/name", whose SecretString is the
// repository's JSON document (Secrets Manager encrypts it with KMS, the
// account's aws/secretsmanager key unless KMSKeyID names another).
//
// A repository whose last secret and registry were removed keeps its secret,
// holding the empty document "null": deleting a secret in Secrets Manager
// schedules it (a recreate right after fails), and an empty secret is read
// like none. Secrets Manager has no conditional write, so two changes of one
// repository at the same instant can lose one of them (the last write wins);
// changes of different repositories never interfere.
//
// IAM: secretsmanager:GetSecretValue, CreateSecret and PutSecretValue on
// arn:...:secret:<Prefix>* (template.yaml grants them to the dispatcher).
package awssm

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/narwhal-ci/narwhal/internal/secrets"
)

// DefaultPrefix is the name prefix of the repositories' secrets.
const DefaultPrefix = "narwhal/repos/"

// empty is the stored form of a document that holds nothing.
const empty = "null"

// API is the part of the Secrets Manager client the backend uses.
type API interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
}

// Config names where the secrets live.
type Config struct {
	// Prefix starts every secret's name; DefaultPrefix when empty.
	Prefix string
	// KMSKeyID encrypts new secrets; empty means aws/secretsmanager.
	KMSKeyID string
}

// Backend is a secrets.Backend in Secrets Manager. It is safe for concurrent
// use.
type Backend struct {
	api API
	cfg Config
}

var _ secrets.Backend = (*Backend)(nil)

// prefixRE is what a prefix may hold, in at most maxPrefixLen bytes (checked
// apart: a counted repetition compiles to a program per count, which every
// cold start paid for).
var prefixRE = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]+$`)

const maxPrefixLen = 256

// New returns a Backend over api. It refuses a prefix Secrets Manager would
// not accept in a name.
func New(api API, cfg Config) (*Backend, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if len(cfg.Prefix) > maxPrefixLen || !prefixRE.MatchString(cfg.Prefix) {
		return nil, fmt.Errorf("secrets prefix %q: at most %d letters, digits and /_+=.@-", cfg.Prefix, maxPrefixLen)
	}
	return &Backend{api: api, cfg: cfg}, nil
}

// name is the secret's name of repo.
func (b *Backend) name(repo string) string { return b.cfg.Prefix + repo }

// Read returns repo's document, nil when it has none.
func (b *Backend) Read(ctx context.Context, repo string) ([]byte, error) {
	doc, _, err := b.get(ctx, repo)
	return doc, err
}

// get reads repo's secret; exists says whether there is one at all.
func (b *Backend) get(ctx context.Context, repo string) (doc []byte, exists bool, err error) {
	out, err := b.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(b.name(repo))})
	var nf *smtypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("get secret %s: %w", b.name(repo), err)
	}
	s := aws.ToString(out.SecretString)
	if s == "" || s == empty {
		return nil, true, nil
	}
	return []byte(s), true, nil
}

// Update reads repo's document, applies fn and writes the result (see the
// package documentation on concurrent writers).
func (b *Backend) Update(ctx context.Context, repo string, fn func(old []byte) ([]byte, error)) error {
	old, exists, err := b.get(ctx, repo)
	if err != nil {
		return err
	}
	doc, err := fn(old)
	if err != nil {
		return err
	}
	value := empty
	if doc != nil {
		value = string(doc)
	}
	if exists {
		return b.put(ctx, repo, value)
	}
	return b.create(ctx, repo, value)
}

func (b *Backend) put(ctx context.Context, repo, value string) error {
	_, err := b.api.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(b.name(repo)), SecretString: aws.String(value),
	})
	if err != nil {
		return fmt.Errorf("put secret %s: %w", b.name(repo), err)
	}
	return nil
}

// create makes repo's secret; when another writer made it meanwhile, the
// value is put instead.
func (b *Backend) create(ctx context.Context, repo, value string) error {
	in := &secretsmanager.CreateSecretInput{
		Name: aws.String(b.name(repo)), SecretString: aws.String(value),
		Description: aws.String("narwhal secrets and registry credentials of " + repo),
	}
	if b.cfg.KMSKeyID != "" {
		in.KmsKeyId = aws.String(b.cfg.KMSKeyID)
	}
	_, err := b.api.CreateSecret(ctx, in)
	var exists *smtypes.ResourceExistsException
	if errors.As(err, &exists) {
		return b.put(ctx, repo, value)
	}
	if err != nil {
		return fmt.Errorf("create secret %s: %w", b.name(repo), err)
	}
	return nil
}
