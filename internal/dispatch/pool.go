package dispatch

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/runnerkey"
)

// Pool is the Clients of production: one rpc.Client per runner (ID and
// address), dialled on first use with the pool's TLS trust and that runner's
// own token, and closed on Release (the runner went offline) or Close. It is
// safe for concurrent use.
type Pool struct {
	cfg   rpc.ClientConfig
	fleet runnerkey.Fleet

	mu      sync.Mutex
	clients map[poolKey]*rpc.Client
	closed  bool
}

// poolKey names a client: the token depends on the runner's ID.
type poolKey struct{ id, addr string }

var _ Clients = (*Pool)(nil)

// NewPool returns an empty pool whose clients use cfg, with cfg.Token set to
// fleet.Token(runner ID) when fleet has keys (a fixed cfg.Token otherwise).
// CAPEM and a token are required by rpc.Dial; a pool without them fails each
// Client call.
func NewPool(cfg rpc.ClientConfig, fleet runnerkey.Fleet) *Pool {
	return &Pool{cfg: cfg, fleet: fleet, clients: map[poolKey]*rpc.Client{}}
}

// Client returns the client of r's address, dialling it when there is none.
func (p *Pool) Client(ctx context.Context, r ci.Runner) (rpc.RunnerService, error) {
	if r.Address == "" {
		return nil, fmt.Errorf("runner %s: no address", r.ID)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("runner %s: client pool: %w", r.ID, ci.ErrClosed)
	}
	key := poolKey{r.ID, r.Address}
	if c, ok := p.clients[key]; ok {
		return c, nil
	}
	cfg := p.cfg
	if len(p.fleet) > 0 {
		cfg.Token = p.fleet.Token(r.ID)
	}
	c, err := rpc.Dial(ctx, r.Address, cfg) // does not block on the network
	if err != nil {
		return nil, fmt.Errorf("runner %s: %w", r.ID, err)
	}
	p.clients[key] = c
	return c, nil
}

// Release closes the client of r's address, if there is one. Calls in
// flight on it fail; the next Client call dials again.
func (p *Pool) Release(r ci.Runner) {
	p.mu.Lock()
	key := poolKey{r.ID, r.Address}
	c, ok := p.clients[key]
	delete(p.clients, key)
	p.mu.Unlock()
	if ok {
		c.Close()
	}
}

// Close closes every client; later Client calls fail with ci.ErrClosed.
func (p *Pool) Close() error {
	p.mu.Lock()
	clients := p.clients
	p.clients, p.closed = map[poolKey]*rpc.Client{}, true
	p.mu.Unlock()
	var errs []error
	for _, c := range clients {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
