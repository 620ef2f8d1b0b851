package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/narwhal-ci/narwhal/internal/rpc/runnerpb"
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
