package runnerhost

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor/fake"
	"github.com/narwhal-ci/narwhal/internal/executor/pick"
	"github.com/narwhal-ci/narwhal/internal/logstore/fs"
	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/runner"
	"github.com/narwhal-ci/narwhal/internal/tlsgen"
)

// sink records the reports the outbox publishes.
type sink struct {
	mu   sync.Mutex
	msgs []ci.Message
}

func (s *sink) send(_ context.Context, m ci.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	return nil
}

func (s *sink) kinds() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, m := range s.msgs {
		out = append(out, m.Headers["kind"])
	}
	return out
}

// TestHostServesAndStops: an opened host serves the runner RPC over TLS with
// its token, reports its registration through the outbox, and on StopJobs
// and Close stops serving and publishes its last report; a second host on
// the same outbox directory is refused with ErrOutbox.
func TestHostServesAndStops(t *testing.T) {
	t.Parallel()
	cert, key, err := tlsgen.SelfSigned(nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir, token := t.TempDir(), "host-test-token-0123456789"
	open := func() (*Host, *sink, error) {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := &sink{}
		h, err := Open(context.Background(), Config{
			Runner: runner.Config{ID: "host-1", Token: token, Address: lis.Addr().String(), Capacity: 1,
				WorkDir: filepath.Join(dir, "jobs"), Heartbeat: time.Hour},
			OutboxDir: filepath.Join(dir, "outbox"), CertPEM: cert, KeyPEM: key, Tokens: []string{token}, Listener: lis,
		}, Deps{NewExec: func(context.Context) (pick.Built, runner.Checkout, error) {
			return pick.Built{Executor: fake.New()}, nil, nil
		},
			Send: s.send, Logs: fs.New(filepath.Join(dir, "logs")), Logger: slog.New(slog.DiscardHandler)})
		return h, s, err
	}
	h, s, err := open()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := open(); !errors.Is(err, ErrOutbox) {
		t.Fatalf("a second host on the same outbox: %v, want ErrOutbox", err)
	}
	ctx := context.Background()
	if _, err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := rpc.Dial(ctx, h.Addr().String(), rpc.ClientConfig{CAPEM: cert, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if st, err := c.Stats(ctx); err != nil || st.RunnerID != "host-1" || st.State != ci.RunnerActive {
		t.Fatalf("Stats = %+v, %v", st, err)
	}
	if ids := h.StopJobs(ctx, Stop{Cancel: true}); len(ids) != 0 {
		t.Errorf("StopJobs stopped %v, want nothing", ids)
	}
	h.Close(ctx)
	if _, err := c.Stats(ctx); err == nil {
		t.Error("the server still answers after Close")
	}
	kinds := s.kinds()
	if len(kinds) < 2 || kinds[0] != string(ci.EventRegister) || kinds[len(kinds)-1] != string(ci.EventHeartbeat) {
		t.Errorf("reports %v, want register first and the offline heartbeat last", kinds)
	}
}
