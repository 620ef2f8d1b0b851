package dispatch

import (
	"errors"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/tlsgen"
)

// serveRunner serves impl over TLS with token on loopback and returns the
// server and its address.
func serveRunner(t *testing.T, impl rpc.RunnerService, cert, key []byte, token string) (*grpc.Server, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := rpc.NewServer(impl, rpc.ServerConfig{CertPEM: cert, KeyPEM: key, Tokens: []string{token}}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return s, lis.Addr().String()
}

// Two real runner servers behind TLS and a token, the real client pool: the
// job lands on the less loaded runner; when that runner's server is gone, the
// RPC fails and the other runner takes the next job.
func TestDispatchOverGRPC(t *testing.T) {
	t.Parallel()
	cert, key, err := tlsgen.SelfSigned(nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	token, err := tlsgen.Token()
	if err != nil {
		t.Fatal(err)
	}
	busy, idle := &fakeRunner{}, &fakeRunner{}
	_, busyAddr := serveRunner(t, busy, cert, key, token)
	idleServer, idleAddr := serveRunner(t, idle, cert, key, token)
	pool := NewPool(rpc.ClientConfig{CAPEM: cert, Token: token, CallTimeout: 2 * time.Second,
		Retry: rpc.Retry{Attempts: 2, Initial: 20 * time.Millisecond}}, nil)
	t.Cleanup(func() { pool.Close() })
	g := newRig(t, Config{}, func(d *Deps) { d.Clients = pool })
	for _, r := range []ci.Runner{
		{ID: "busy", Address: busyAddr, Capacity: 4, Running: 3},
		{ID: "idle", Address: idleAddr, Capacity: 4, Running: 0},
	} {
		r.State, r.LastHeartbeat, r.ExpiresAt = ci.RunnerActive, g.clock.Now(), g.clock.Now().Add(time.Hour)
		if err := g.store.PutRunner(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}

	first := g.job(t, "aaa1")
	g.handle(t, first)
	assertJob(t, g.get(t, first.ID), ci.StatusAssigned, 1, "idle")
	if runs := idle.ran(); len(runs) != 1 || runs[0].ID != first.ID || runs[0].CloneURL != first.CloneURL {
		t.Fatalf("idle runner got %v", jobIDs(runs))
	}

	idleServer.Stop() // idle (1/4) is still less loaded than busy (3/4): it is tried first
	second := g.job(t, "aaa2")
	g.handle(t, second)
	assertJob(t, g.get(t, second.ID), ci.StatusAssigned, 1, "busy")
	if runs := busy.ran(); len(runs) != 1 || runs[0].ID != second.ID {
		t.Fatalf("busy runner got %v, want the second job", jobIDs(runs))
	}
	if len(idle.ran()) != 1 {
		t.Fatalf("the stopped runner got %d runs", len(idle.ran()))
	}
}

func TestPool(t *testing.T) {
	t.Parallel()
	cert, _, err := tlsgen.SelfSigned(nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p := NewPool(rpc.ClientConfig{CAPEM: cert, Token: "0123456789abcdef0123"}, nil)
	r := ci.Runner{ID: "a", Address: "127.0.0.1:1"}
	c1, err := p.Client(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	if c2, _ := p.Client(t.Context(), r); c2 != c1 {
		t.Error("a second client for the same address")
	}
	p.Release(r)
	if c3, _ := p.Client(t.Context(), r); c3 == c1 {
		t.Error("the released client was handed out again")
	}
	if _, err := p.Client(t.Context(), ci.Runner{ID: "b"}); err == nil {
		t.Error("a runner without an address got a client")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Client(t.Context(), r); !errors.Is(err, ci.ErrClosed) {
		t.Errorf("Client after Close = %v, want ErrClosed", err)
	}
	if _, err := NewPool(rpc.ClientConfig{CAPEM: cert}, nil).Client(t.Context(), r); err == nil {
		t.Error("a pool without a token dialled")
	}
}

func TestJobURL(t *testing.T) {
	t.Parallel()
	d := New(Config{SelfURL: "https://ci.example.com/"}, Deps{})
	if got := d.JobURL("j1"); got != "https://ci.example.com/jobs/j1" {
		t.Errorf("JobURL = %q", got)
	}
	if got := New(Config{}, Deps{}).JobURL("j1"); got != "" {
		t.Errorf("JobURL without SelfURL = %q", got)
	}
}
