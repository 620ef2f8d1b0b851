// Package rpc is the contract between the dispatcher and runnerd: a gRPC
// service (runnerpb, generated from runnerpb/runner.proto) served by runnerd
// over TLS with bearer-token auth, and a client for the dispatcher.
//
// Neither side sees the generated types: runnerd implements RunnerService with
// the plain Go types Job and Stats and serves it with NewServer; the
// dispatcher calls Dial and uses the Client, which implements RunnerService
// too. docs/rpc.md describes the semantics of each call, idempotency, auth,
// TLS, error codes and retries.
package rpc
