package rpc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// MinTokenLen is the shortest bearer token a server accepts in its
// configuration (tlsgen.Token makes 43-character ones).
const MinTokenLen = 16

const bearer = "bearer "

// guard checks the bearer token of every call against the accepted tokens.
type guard struct {
	hashes       [][sha256.Size]byte // of the accepted tokens
	healthExempt bool                // health checks need no token
	log          *slog.Logger
}

func newGuard(tokens []string, healthExempt bool, log *slog.Logger) (*guard, error) {
	if len(tokens) == 0 {
		return nil, errors.New("no bearer token configured")
	}
	g := &guard{healthExempt: healthExempt, log: log}
	for i, t := range tokens {
		if len(t) < MinTokenLen {
			return nil, fmt.Errorf("bearer token %d is shorter than %d characters", i+1, MinTokenLen)
		}
		g.hashes = append(g.hashes, sha256.Sum256([]byte(t)))
	}
	return g, nil
}

// check returns nil when the call may go on, else an Unauthenticated status.
// Refusals are logged with the method, the peer and the reason, never the
// token.
func (g *guard) check(ctx context.Context, method string) error {
	if g.healthExempt && strings.HasPrefix(method, "/"+healthpb.Health_ServiceDesc.ServiceName+"/") {
		return nil
	}
	reason := g.refusal(ctx)
	if reason == "" {
		return nil
	}
	addr := "unknown"
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		addr = p.Addr.String()
	}
	g.log.Warn("rpc: call refused", "method", method, "peer", addr, "reason", reason)
	return status.Error(codes.Unauthenticated, reason)
}

// refusal says why the call's token is not good, or "" when it is.
func (g *guard) refusal(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	switch {
	case len(vals) == 0:
		return "missing bearer token"
	case len(vals) > 1:
		return "more than one authorization header"
	case len(vals[0]) <= len(bearer) || !strings.EqualFold(vals[0][:len(bearer)], bearer):
		return "malformed authorization header"
	}
	if !g.accepts(vals[0][len(bearer):]) {
		return "bearer token not accepted"
	}
	return ""
}

// accepts compares the token with every accepted one in constant time: the
// hashes have equal length, and the loop never stops early.
func (g *guard) accepts(token string) bool {
	h := sha256.Sum256([]byte(token))
	ok := 0
	for i := range g.hashes {
		ok |= subtle.ConstantTimeCompare(h[:], g.hashes[i][:])
	}
	return ok == 1
}

func (g *guard) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := g.check(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return h(ctx, req)
}

func (g *guard) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if err := g.check(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return h(srv, ss)
}

// tokenCreds attaches the bearer token to every call, and only over TLS.
type tokenCreds struct{ token string }

var _ credentials.PerRPCCredentials = tokenCreds{}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (c tokenCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + c.token}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials: the
// token never travels in plaintext.
func (tokenCreds) RequireTransportSecurity() bool { return true }
