package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/rpc/runnerpb"
	"github.com/narwhal-ci/narwhal/internal/runnerkey"
)

// statsWithoutToken calls Stats over TLS with no authorization metadata.
func statsWithoutToken(ctx context.Context, addr string) error {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	creds := credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13})
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = runnerpb.NewRunnerClient(conn).Stats(ctx, &runnerpb.StatsRequest{})
	return err
}

// TestCallsNeedTheRunnersOwnToken: runnerd accepts only its own token. The
// token of another runner of the same fleet, and the fleet key itself, are
// refused with Unauthenticated (issue 10, case 7).
func TestCallsNeedTheRunnersOwnToken(t *testing.T) {
	t.Parallel()
	p := startRunnerd(t, daemonOpts{})
	if _, err := p.client.Stats(t.Context()); err != nil {
		t.Fatalf("stats with its own token: %v", err)
	}
	for name, token := range map[string]string{
		"another runner's token": runnerkey.Token(fleetKey, p.id+"-other"),
		"the fleet key":          fleetKey,
	} {
		c, err := rpc.Dial(t.Context(), p.GRPC, rpc.ClientConfig{CAPEM: certPEM, Token: token})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Stats(t.Context()); status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s: Stats = %v, want Unauthenticated", name, err)
		}
		c.Close()
	}
}
