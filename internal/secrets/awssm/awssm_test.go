package awssm

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/narwhal-ci/narwhal/internal/secrets"
	"github.com/narwhal-ci/narwhal/internal/secrets/secretstest"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

var seq atomic.Int64

// client is a Secrets Manager client on moto_server.
func client(t *testing.T) *secretsmanager.Client {
	testenv.AWSEndpoint(t)
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return secretsmanager.NewFromConfig(cfg)
}

// TestContract runs the contract on moto, each subtest under a prefix of its
// own.
func TestContract(t *testing.T) {
	sm := client(t)
	run := time.Now().UnixNano()
	secretstest.Run(t, func(t *testing.T) secrets.Backend {
		b, err := New(sm, Config{Prefix: fmt.Sprintf("narwhal-test/%d/%d/", run, seq.Add(1))})
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

// TestLayout: one secret per repository, named prefix + repo, holding the
// JSON document.
func TestLayout(t *testing.T) {
	sm := client(t)
	prefix := fmt.Sprintf("narwhal-test/%d/layout/", time.Now().UnixNano())
	b, err := New(sm, Config{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	s := secrets.New(b)
	if err := s.PutSecret(context.Background(), "acme/app", "TOKEN", secrets.Value{Value: "v1"}); err != nil {
		t.Fatal(err)
	}
	out, err := sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: strp(prefix + "acme/app")})
	if err != nil {
		t.Fatal(err)
	}
	if got := *out.SecretString; len(got) == 0 || got[0] != '{' {
		t.Fatalf("secret %sacme/app holds %q, want the JSON document", prefix, got)
	}
}

func TestBadPrefix(t *testing.T) {
	if _, err := New(nil, Config{Prefix: "bad prefix!"}); err == nil {
		t.Fatal("New accepted a prefix with a space")
	}
}

func strp(s string) *string { return &s }

// A prefix is at most maxPrefixLen of the characters Secrets Manager names
// may hold.
func TestPrefixBounds(t *testing.T) {
	t.Parallel()
	for prefix, ok := range map[string]bool{
		strings.Repeat("a", maxPrefixLen): true, strings.Repeat("a", maxPrefixLen+1): false,
		"narwhal/+=.@_-x/": true, "bad prefix!": false, "a\nb": false,
	} {
		if _, err := New(nil, Config{Prefix: prefix}); (err == nil) != ok {
			t.Errorf("New with a prefix of %d bytes (%.20q): %v, want ok=%v", len(prefix), prefix, err, ok)
		}
	}
}
