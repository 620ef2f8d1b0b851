package rpc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/narwhal-ci/narwhal/internal/rpc/runnerpb"
)

// ServerConfig is how runnerd serves the contract. There is no plaintext
// mode: tests make a pair with tlsgen.SelfSigned.
type ServerConfig struct {
	// CertPEM and KeyPEM are the server's TLS certificate chain and key.
	// Required.
	CertPEM, KeyPEM []byte
	// Tokens are the accepted bearer tokens (at least one, each at least
	// MinTokenLen long). Several are accepted at once so a token can be
	// rotated: add the new one, move the dispatcher to it, drop the old one.
	Tokens []string
	// Health is the health status the server reports; runnerd keeps it to
	// flip it on drain. Nil: the server makes its own, SERVING.
	Health *Health
	// HealthNeedsToken makes health checks need a token too. By default they
	// do not, because load balancers and probes have no token; the health
	// service reveals nothing but SERVING or NOT_SERVING.
	HealthNeedsToken bool
}

// NewServer returns a gRPC server with the runner service (backed by impl)
// and the grpc.health.v1 service registered, TLS 1.3 only, and the bearer
// token checked on every call (see ServerConfig.HealthNeedsToken for health).
// A successful Drain call also sets the health to NOT_SERVING. The caller
// runs it with Serve and ends it with GracefulStop or Stop.
func NewServer(impl RunnerService, cfg ServerConfig, logger *slog.Logger) (*grpc.Server, error) {
	if impl == nil || logger == nil {
		return nil, errors.New("rpc server: impl and logger are required")
	}
	creds, err := serverCreds(cfg.CertPEM, cfg.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("rpc server: %w", err)
	}
	g, err := newGuard(cfg.Tokens, !cfg.HealthNeedsToken, logger)
	if err != nil {
		return nil, fmt.Errorf("rpc server: %w", err)
	}
	if cfg.Health == nil {
		cfg.Health = NewHealth()
	}
	// NumStreamWorkers: a pool of goroutines serves the calls instead of a
	// new goroutine (and stack growth) per call, a tenth of a Run's cost on
	// the runner's side (issue 15).
	s := grpc.NewServer(grpc.Creds(creds),
		grpc.ChainUnaryInterceptor(g.unary), grpc.ChainStreamInterceptor(g.stream),
		grpc.NumStreamWorkers(uint32(runtime.GOMAXPROCS(0))))
	runnerpb.RegisterRunnerServer(s, &service{impl: impl, health: cfg.Health})
	healthpb.RegisterHealthServer(s, cfg.Health.hs)
	return s, nil
}

func serverCreds(certPEM, keyPEM []byte) (credentials.TransportCredentials, error) {
	if len(certPEM) == 0 || len(keyPEM) == 0 {
		return nil, errors.New("TLS certificate and key are required")
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load TLS key pair: %w", err)
	}
	return credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS13,
	}), nil
}

// service translates the generated server interface to RunnerService.
type service struct {
	runnerpb.UnimplementedRunnerServer
	impl   RunnerService
	health *Health
}

var _ runnerpb.RunnerServer = (*service)(nil)

// Run implements runnerpb.RunnerServer.
func (s *service) Run(ctx context.Context, req *runnerpb.RunRequest) (*runnerpb.RunResponse, error) {
	accepted, reason, err := s.run(ctx, req)
	if err != nil {
		return nil, toStatus(err)
	}
	return &runnerpb.RunResponse{Accepted: accepted, Reason: reason}, nil
}

// RunBatch implements runnerpb.RunnerServer: each job's Run, in order, with
// a result of its own; once ctx ends, the jobs not run yet fail with its
// error.
func (s *service) RunBatch(ctx context.Context, req *runnerpb.RunBatchRequest) (*runnerpb.RunBatchResponse, error) {
	jobs := req.GetJobs()
	if len(jobs) > MaxRunBatch {
		return nil, status.Errorf(codes.InvalidArgument, "run batch: %d jobs, more than %d", len(jobs), MaxRunBatch)
	}
	resp := &runnerpb.RunBatchResponse{Results: make([]*runnerpb.RunResult, len(jobs))}
	for i, j := range jobs {
		var r runnerpb.RunResult
		accepted, reason, err := s.run(ctx, j)
		if err != nil {
			st := status.Convert(toStatus(err))
			r.Code, r.Message = int32(st.Code()), st.Message()
		} else {
			r.Accepted, r.Reason = accepted, reason
		}
		resp.Results[i] = &r
	}
	return resp, nil
}

// run is the Run of one job of a request.
func (s *service) run(ctx context.Context, req *runnerpb.RunRequest) (bool, string, error) {
	if err := context.Cause(ctx); err != nil {
		return false, "", err
	}
	job := jobFromPB(req)
	if err := job.Validate(); err != nil {
		return false, "", err
	}
	return s.impl.Run(ctx, job)
}

// Cancel implements runnerpb.RunnerServer.
func (s *service) Cancel(ctx context.Context, req *runnerpb.CancelRequest) (*runnerpb.CancelResponse, error) {
	if req.GetJobId() == "" {
		return nil, status.Error(codes.InvalidArgument, "cancel: no job ID")
	}
	if err := s.impl.Cancel(ctx, req.GetJobId()); err != nil {
		return nil, toStatus(err)
	}
	return &runnerpb.CancelResponse{}, nil
}

// Drain implements runnerpb.RunnerServer; once the runner drains, the health
// service reports NOT_SERVING.
func (s *service) Drain(ctx context.Context, req *runnerpb.DrainRequest) (*runnerpb.DrainResponse, error) {
	secs := req.GetDeadlineSeconds()
	if secs < 0 || secs > maxDrainSeconds {
		return nil, status.Errorf(codes.InvalidArgument, "drain: deadline %ds out of range", secs)
	}
	if err := s.impl.Drain(ctx, time.Duration(secs)*time.Second); err != nil {
		return nil, toStatus(err)
	}
	s.health.SetServing(false)
	return &runnerpb.DrainResponse{}, nil
}

// maxDrainSeconds bounds a drain deadline (a week) so it fits a Duration.
const maxDrainSeconds = 7 * 24 * 3600

// Stats implements runnerpb.RunnerServer.
func (s *service) Stats(ctx context.Context, _ *runnerpb.StatsRequest) (*runnerpb.StatsResponse, error) {
	st, err := s.impl.Stats(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return statsToPB(st), nil
}
