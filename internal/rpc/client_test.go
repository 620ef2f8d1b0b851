package rpc

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/testenv"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A client that does not trust the runner's certificate fails, at once
// (a retry would not help), and the runner sees nothing.
func TestUntrustedCertFails(t *testing.T) {
	t.Parallel()
	f := startServer(t, &fakeRunner{}, nil)
	stranger, _ := newCert(t)
	c := dial(t, f.addr, ClientConfig{CAPEM: stranger, Retry: Retry{Attempts: 50, Initial: 200 * time.Millisecond}})
	start := time.Now()
	_, err := c.Stats(ctxT(t, 10*time.Second))
	var verr *tls.CertificateVerificationError
	if !errors.As(err, &verr) || status.Code(err) != codes.Unavailable {
		t.Fatalf("err = %v, want Unavailable with a certificate verification error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v: the certificate failure was retried", d)
	}
	if _, _, _, n := f.impl.calls(); n != 0 {
		t.Errorf("impl.Stats called %d times", n)
	}
}

// A runner that comes up ~300ms after the first call is reached by retrying
// Unavailable.
func TestRetryUntilServerComesUp(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens now
	cert, key := newCert(t)
	f := &fixture{addr: addr, cert: cert, impl: &fakeRunner{}, health: NewHealth(), logs: &testenv.Buffer{}}
	s := newServer(t, f, key, nil)
	up := make(chan error, 1)
	time.AfterFunc(300*time.Millisecond, func() {
		lis, err := net.Listen("tcp", addr)
		if err == nil {
			go s.Serve(lis)
		}
		up <- err
	})
	c := dial(t, addr, ClientConfig{CAPEM: cert, Retry: Retry{Attempts: 20, Initial: 50 * time.Millisecond, Max: 200 * time.Millisecond}})
	start := time.Now()
	_, err = c.Stats(ctxT(t, 10*time.Second))
	if lerr := <-up; lerr != nil {
		t.Fatalf("relisten on %s: %v", addr, lerr)
	}
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("seen after %v, before the server was up", d)
	}
	if _, _, _, n := f.impl.calls(); n != 1 {
		t.Errorf("impl.Stats called %d times, want 1", n)
	}
}

// Retries stop as soon as ctx ends, with the context's error.
func TestRetryStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	cert, _ := newCert(t)
	c := dial(t, addr, ClientConfig{CAPEM: cert, Retry: Retry{Attempts: 1000, Initial: 100 * time.Millisecond}})
	cause := errors.New("dispatcher shutting down")
	ctx, cancel := context.WithCancelCause(t.Context())
	time.AfterFunc(250*time.Millisecond, func() { cancel(cause) })
	start := time.Now()
	_, _, err = c.Run(ctx, fullJob())
	if d := time.Since(start); d > time.Second {
		t.Errorf("returned %v after the start, want promptly after the cancel at 250ms", d)
	}
	if !errors.Is(err, cause) {
		t.Errorf("err = %v, want the context's cause", err)
	}
}

// An attempt that times out is retried for idempotent calls: the first Run
// hangs past the call timeout, the second is seen (and the runner
// dedups, which is why it must).
func TestRetryAfterAttemptDeadline(t *testing.T) {
	t.Parallel()
	var seen atomic.Bool
	impl := &fakeRunner{runFn: func(ctx context.Context, _ Job) (bool, string, error) {
		if seen.CompareAndSwap(false, true) {
			<-ctx.Done()
			return false, "", ctx.Err()
		}
		return true, "", nil
	}}
	f := startServer(t, impl, nil)
	c := dial(t, f.addr, ClientConfig{CAPEM: f.cert, CallTimeout: 200 * time.Millisecond})
	accepted, _, err := c.Run(ctxT(t, 5*time.Second), fullJob())
	if err != nil || !accepted {
		t.Fatalf("Run = %v, %v; want accepted on the second attempt", accepted, err)
	}
	if jobs, _, _, _ := impl.calls(); len(jobs) != 2 || jobs[0].ID != jobs[1].ID {
		t.Errorf("impl got %d Run calls, want 2 for the same job", len(jobs))
	}
}

func TestClientRejectsInvalidJobWithoutSending(t *testing.T) {
	t.Parallel()
	f := startServer(t, &fakeRunner{}, nil)
	c := dial(t, f.addr, ClientConfig{CAPEM: f.cert})
	job := fullJob()
	job.Fork = true // with secrets
	if _, _, err := c.Run(ctxT(t, 5*time.Second), job); !errors.Is(err, ErrInvalidJob) {
		t.Errorf("err = %v, want ErrInvalidJob", err)
	}
	if jobs, _, _, _ := f.impl.calls(); len(jobs) != 0 {
		t.Errorf("impl got %d jobs", len(jobs))
	}
}

func TestDialConfigErrors(t *testing.T) {
	t.Parallel()
	cert, _ := newCert(t)
	for name, cfg := range map[string]ClientConfig{
		"no CA":    {Token: token1},
		"bad CA":   {CAPEM: []byte("not a certificate"), Token: token1},
		"no token": {CAPEM: cert},
	} {
		if c, err := Dial(t.Context(), "127.0.0.1:1", cfg); err == nil {
			c.Close()
			t.Errorf("%s: Dial accepted the config", name)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Dial(ctx, "127.0.0.1:1", ClientConfig{CAPEM: cert, Token: token1}); !errors.Is(err, context.Canceled) {
		t.Errorf("Dial with an ended ctx: err = %v, want context.Canceled", err)
	}
}
