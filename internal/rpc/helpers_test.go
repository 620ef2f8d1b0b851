package rpc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/narwhal-ci/narwhal/internal/testenv"
	"github.com/narwhal-ci/narwhal/internal/tlsgen"
)

const (
	token1 = "first-token-0123456789abcdef"
	token2 = "second-token-0123456789abcdef"
)

// fakeRunner is a hand-written RunnerService that records its calls. Nil
// hooks accept jobs, cancel and drain fine, and report zero Stats.
type fakeRunner struct {
	mu      sync.Mutex
	jobs    []Job
	cancels []string
	drains  []time.Duration
	stats   int

	runFn    func(ctx context.Context, j Job) (bool, string, error)
	cancelFn func(id string) error
	statsFn  func() (Stats, error)
}

var _ RunnerService = (*fakeRunner)(nil)

func (f *fakeRunner) Run(ctx context.Context, j Job) (bool, string, error) {
	f.mu.Lock()
	f.jobs = append(f.jobs, j)
	f.mu.Unlock()
	if f.runFn != nil {
		return f.runFn(ctx, j)
	}
	return true, "", nil
}

func (f *fakeRunner) Cancel(_ context.Context, id string) error {
	f.mu.Lock()
	f.cancels = append(f.cancels, id)
	f.mu.Unlock()
	if f.cancelFn != nil {
		return f.cancelFn(id)
	}
	return nil
}

func (f *fakeRunner) Drain(_ context.Context, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drains = append(f.drains, d)
	return nil
}

func (f *fakeRunner) Stats(context.Context) (Stats, error) {
	f.mu.Lock()
	f.stats++
	f.mu.Unlock()
	if f.statsFn != nil {
		return f.statsFn()
	}
	return Stats{}, nil
}

func (f *fakeRunner) calls() (jobs []Job, cancels []string, drains []time.Duration, stats int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Job(nil), f.jobs...), append([]string(nil), f.cancels...),
		append([]time.Duration(nil), f.drains...), f.stats
}

// fixture is a runner server on loopback TLS.
type fixture struct {
	addr   string
	cert   []byte
	impl   *fakeRunner
	health *Health
	logs   *testenv.Buffer
}

// newCert makes a self-signed pair for loopback.
func newCert(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	certPEM, keyPEM, err := tlsgen.SelfSigned(nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, keyPEM
}

// startServer serves impl on 127.0.0.1 with tokens token1 and token2; edit
// changes the config before the server is made.
func startServer(t *testing.T, impl *fakeRunner, edit func(*ServerConfig)) *fixture {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{addr: lis.Addr().String(), impl: impl, health: NewHealth(), logs: &testenv.Buffer{}}
	var key []byte
	f.cert, key = newCert(t)
	s := newServer(t, f, key, edit)
	go s.Serve(lis)
	return f
}

// newServer makes the fixture's server, stopped when the test ends.
func newServer(t *testing.T, f *fixture, key []byte, edit func(*ServerConfig)) *grpc.Server {
	t.Helper()
	cfg := ServerConfig{CertPEM: f.cert, KeyPEM: key, Tokens: []string{token1, token2}, Health: f.health}
	if edit != nil {
		edit(&cfg)
	}
	logger := slog.New(slog.NewTextHandler(f.logs, nil))
	s, err := NewServer(f.impl, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// dial returns a client of f with token1, fast retries and a 2s call timeout.
func dial(t *testing.T, addr string, cfg ClientConfig) *Client {
	t.Helper()
	if cfg.Token == "" {
		cfg.Token = token1
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = 2 * time.Second
	}
	if cfg.Retry.Initial == 0 {
		cfg.Retry.Initial = 20 * time.Millisecond
	}
	c, err := Dial(context.Background(), addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawConn is a gRPC connection that trusts the server but sends no token.
func rawConn(t *testing.T, f *fixture) *grpc.ClientConn {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(f.cert)
	creds := credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13})
	conn, err := grpc.NewClient(f.addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
