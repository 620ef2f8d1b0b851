package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/rpc/runnerpb"
)

func fullJob() Job {
	return Job{
		ID: "job-1", Attempt: 2, Repo: "octo/hello", CloneURL: "https://github.com/octo/hello.git",
		SHA: "0123456789abcdef0123456789abcdef01234567", Ref: "refs/heads/main", Branch: "main",
		Event: ci.EventPush, PR: 7, Labels: []string{"linux", "docker"},
		Secrets: map[string]string{"DEPLOY_KEY": "s3cret", "NPM": "t0ken"}, CloneToken: "ghs_clone",
		Withheld:     []string{"PROD_KEY"},
		Registries:   []RegistryAuth{{Host: "127.0.0.1:5001", Username: "puller", Password: "r3gistry"}},
		Resume:       &ci.Resume{From: "test", Done: map[string]string{"build": "succeeded in job p"}, Snapshot: "snapshots/p/1/build.tar.zst"},
		ChangedFiles: []string{"src/main.go", "docs/a b.md"}, ChangedKnown: true,
	}
}

func TestRunAcceptedReachesImplWithAllFields(t *testing.T) {
	t.Parallel()
	f := startServer(t, &fakeRunner{}, nil)
	c := dial(t, f.addr, ClientConfig{CAPEM: f.cert})
	accepted, reason, err := c.Run(ctxT(t, 5*time.Second), fullJob())
	if err != nil || !accepted || reason != "" {
		t.Fatalf("Run = %v, %q, %v; want accepted", accepted, reason, err)
	}
	jobs, _, _, _ := f.impl.calls()
	if len(jobs) != 1 || !reflect.DeepEqual(jobs[0], fullJob()) {
		t.Fatalf("impl got %+v, want %+v", jobs, fullJob())
	}
}

func TestRunRejectedCarriesReason(t *testing.T) {
	t.Parallel()
	impl := &fakeRunner{runFn: func(context.Context, Job) (bool, string, error) { return false, "all 2 slots busy", nil }}
	f := startServer(t, impl, nil)
	c := dial(t, f.addr, ClientConfig{CAPEM: f.cert})
	job := fullJob()
	job.Fork, job.Registries, job.Event = true, nil, ci.EventPullRequest
	accepted, reason, err := c.Run(ctxT(t, 5*time.Second), job)
	if err != nil || accepted || reason != "all 2 slots busy" {
		t.Fatalf("Run = %v, %q, %v; want rejected with the reason", accepted, reason, err)
	}
	jobs, _, _, _ := impl.calls()
	if len(jobs) != 1 || !reflect.DeepEqual(jobs[0], job) {
		t.Fatalf("impl got %+v, want %+v", jobs, job)
	}
}

// The server validates on its own, whatever the client: a fork job with
// registry credentials never reaches the runner.
func TestServerRejectsInvalidJob(t *testing.T) {
	t.Parallel()
	f := startServer(t, &fakeRunner{}, nil)
	ctx := metadata.AppendToOutgoingContext(ctxT(t, 5*time.Second), "authorization", "Bearer "+token1)
	client := runnerpb.NewRunnerClient(rawConn(t, f))
	for name, req := range map[string]*runnerpb.RunRequest{
		"fork with registries": {JobId: "j", CloneUrl: "u", Sha: "s", Fork: true,
			Registries: []*runnerpb.RegistryAuth{{Host: "h", Username: "u", Password: "p"}}},
		"no job id": {CloneUrl: "u", Sha: "s"},
	} {
		_, err := client.Run(ctx, req)
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: err = %v, want InvalidArgument", name, err)
		}
	}
	if jobs, _, _, _ := f.impl.calls(); len(jobs) != 0 {
		t.Errorf("impl got %d invalid jobs", len(jobs))
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	f := startServer(t, &fakeRunner{}, nil)
	client := runnerpb.NewRunnerClient(rawConn(t, f))
	for _, tc := range []struct {
		name, header, reason string
		want                 codes.Code
	}{
		{"no token", "", "missing bearer token", codes.Unauthenticated},
		{"wrong token", "Bearer not-the-token-0123456789", "bearer token not accepted", codes.Unauthenticated},
		{"not bearer", "Basic " + token1, "malformed authorization header", codes.Unauthenticated},
		{"empty bearer", "Bearer ", "malformed authorization header", codes.Unauthenticated},
		{"first token", "Bearer " + token1, "", codes.OK},
		{"rotated second token", "bearer " + token2, "", codes.OK},
	} {
		ctx := ctxT(t, 5*time.Second)
		if tc.header != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", tc.header)
		}
		_, err := client.Stats(ctx, &runnerpb.StatsRequest{})
		if status.Code(err) != tc.want {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		if tc.reason != "" && !strings.Contains(f.logs.String(), `reason="`+tc.reason+`"`) {
			t.Errorf("%s: no refusal logged with reason %q in:\n%s", tc.name, tc.reason, f.logs)
		}
	}
	if _, _, _, n := f.impl.calls(); n != 2 {
		t.Errorf("impl.Stats called %d times, want 2 (the authenticated calls)", n)
	}
	logs := f.logs.String()
	for _, want := range []string{"method=/narwhal.runner.v1.Runner/Stats", "peer=127.0.0.1:"} {
		if !strings.Contains(logs, want) {
			t.Errorf("refusal log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "not-the-token") || strings.Contains(logs, token1) {
		t.Errorf("a token leaked into the logs:\n%s", logs)
	}
}

// A Client with a wrong token gets Unauthenticated at once: no retries.
func TestClientWrongTokenUnauthenticated(t *testing.T) {
	t.Parallel()
	f := startServer(t, &fakeRunner{}, nil)
	c := dial(t, f.addr, ClientConfig{CAPEM: f.cert, Token: "wrong-token-0123456789abcdef"})
	_, _, err := c.Run(ctxT(t, 5*time.Second), fullJob())
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("err = %v, want Unauthenticated", err)
	}
	if got := strings.Count(f.logs.String(), "call refused"); got != 1 {
		t.Errorf("%d refusals logged, want 1 (no retry)", got)
	}
	if jobs, _, _, _ := f.impl.calls(); len(jobs) != 0 {
		t.Errorf("impl got %d jobs", len(jobs))
	}
}

func TestPlaintextClientFails(t *testing.T) {
	t.Parallel()
	f := startServer(t, &fakeRunner{}, nil)
	conn, err := grpc.NewClient(f.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(ctxT(t, 5*time.Second), "authorization", "Bearer "+token1)
	_, err = runnerpb.NewRunnerClient(conn).Stats(ctx, &runnerpb.StatsRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("plaintext call: err = %v, want Unavailable", err)
	}
	if _, _, _, n := f.impl.calls(); n != 0 {
		t.Errorf("impl.Stats called %d times over plaintext", n)
	}
}

func TestHealthServingThenNotServing(t *testing.T) {
	t.Parallel()
	f := startServer(t, &fakeRunner{}, nil)
	c := dial(t, f.addr, ClientConfig{CAPEM: f.cert})
	ctx := ctxT(t, 5*time.Second)
	if ok, err := c.Health(ctx); err != nil || !ok {
		t.Fatalf("Health = %v, %v; want serving", ok, err)
	}
	f.health.SetServing(false)
	if ok, err := c.Health(ctx); err != nil || ok {
		t.Fatalf("Health after SetServing(false) = %v, %v; want not serving", ok, err)
	}
	// Probes without a token see it too: health is exempt from auth.
	hc := healthpb.NewHealthClient(rawConn(t, f))
	resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("tokenless Check = %v, %v; want NOT_SERVING", resp, err)
	}
}

// With HealthNeedsToken, tokenless probes are refused, unary and streaming.
func TestHealthNeedsToken(t *testing.T) {
	t.Parallel()
	f := startServer(t, &fakeRunner{}, func(c *ServerConfig) { c.HealthNeedsToken = true })
	ctx := ctxT(t, 5*time.Second)
	hc := healthpb.NewHealthClient(rawConn(t, f))
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("tokenless Check: err = %v, want Unauthenticated", err)
	}
	stream, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("tokenless Watch: err = %v, want Unauthenticated", err)
	}
	c := dial(t, f.addr, ClientConfig{CAPEM: f.cert})
	if ok, err := c.Health(ctx); err != nil || !ok {
		t.Errorf("Health with token = %v, %v; want serving", ok, err)
	}
}

func TestDrainReachesImplAndFlipsHealth(t *testing.T) {
	t.Parallel()
	f := startServer(t, &fakeRunner{}, nil)
	c := dial(t, f.addr, ClientConfig{CAPEM: f.cert})
	ctx := ctxT(t, 5*time.Second)
	if err := c.Drain(ctx, 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := c.Drain(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, drains, _ := f.impl.calls(); !reflect.DeepEqual(drains, []time.Duration{2 * time.Second, 0}) {
		t.Errorf("impl drains = %v, want [2s 0] (rounded up; 0 is the default)", drains)
	}
	if ok, err := c.Health(ctx); err != nil || ok {
		t.Errorf("Health after Drain = %v, %v; want not serving", ok, err)
	}
	if err := c.Drain(ctx, -time.Second); err == nil {
		t.Error("negative drain deadline accepted")
	}
}

func TestStatsRoundTrip(t *testing.T) {
	t.Parallel()
	want := Stats{
		RunnerID: "runner-a", Capacity: 4, Running: []string{"j1", "j2"}, LoadAverage: 1.25,
		FreeDiskBytes: 42 << 30, Labels: []string{"linux", "arm64"}, State: ci.RunnerDraining, Version: "v1.2.3",
	}
	f := startServer(t, &fakeRunner{statsFn: func() (Stats, error) { return want, nil }}, nil)
	c := dial(t, f.addr, ClientConfig{CAPEM: f.cert})
	got, err := c.Stats(ctxT(t, 5*time.Second))
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Stats = %+v, %v; want %+v", got, err, want)
	}
}

func TestImplErrorsBecomeCodes(t *testing.T) {
	t.Parallel()
	impl := &fakeRunner{
		cancelFn: func(string) error { return fmt.Errorf("cancel: %w", ci.ErrNotFound) },
		statsFn:  func() (Stats, error) { return Stats{}, errors.New("disk on fire") },
		runFn:    func(context.Context, Job) (bool, string, error) { return false, "", ci.ErrClosed },
	}
	f := startServer(t, impl, nil)
	c := dial(t, f.addr, ClientConfig{CAPEM: f.cert, Retry: Retry{Attempts: 2}})
	ctx := ctxT(t, 5*time.Second)
	err := c.Cancel(ctx, "job-9")
	if !errors.Is(err, ci.ErrNotFound) || status.Code(err) != codes.NotFound {
		t.Errorf("Cancel: err = %v, want NotFound matching ci.ErrNotFound", err)
	}
	if _, err := c.Stats(ctx); status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("Stats: err = %v, want Internal with the message", err)
	}
	_, _, err = c.Run(ctx, fullJob())
	if status.Code(err) != codes.Unavailable {
		t.Errorf("Run on a closing runner: err = %v, want Unavailable", err)
	}
	jobs, cancels, _, stats := impl.calls()
	if len(cancels) != 1 || stats != 1 || len(jobs) != 2 {
		t.Errorf("calls: cancel %d, stats %d, run %d; want 1, 1 (not retried) and 2 (retried)",
			len(cancels), stats, len(jobs))
	}
}

func TestNewServerConfigErrors(t *testing.T) {
	t.Parallel()
	cert, key := newCert(t)
	otherCert, _ := newCert(t)
	logger := slog.New(slog.DiscardHandler)
	for name, cfg := range map[string]ServerConfig{
		"no TLS":         {Tokens: []string{token1}},
		"mismatched key": {CertPEM: otherCert, KeyPEM: key, Tokens: []string{token1}},
		"no tokens":      {CertPEM: cert, KeyPEM: key},
		"short token":    {CertPEM: cert, KeyPEM: key, Tokens: []string{token1, "short"}},
	} {
		if _, err := NewServer(&fakeRunner{}, cfg, logger); err == nil {
			t.Errorf("%s: NewServer accepted the config", name)
		}
	}
	if _, err := NewServer(&fakeRunner{}, ServerConfig{CertPEM: cert, KeyPEM: key, Tokens: []string{token1}}, logger); err != nil {
		t.Errorf("a good config: %v", err)
	}
}

func TestServiceNameMatchesProto(t *testing.T) {
	if ServiceName != runnerpb.Runner_ServiceDesc.ServiceName {
		t.Errorf("ServiceName = %q, proto says %q", ServiceName, runnerpb.Runner_ServiceDesc.ServiceName)
	}
}
