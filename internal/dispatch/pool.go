package dispatch

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/rpc"
)

// Pool is the Clients of production: one rpc.Client per runner address,
// dialled on first use with the pool's TLS trust and token, and closed on
// Release (the runner went offline) or Close. It is safe for concurrent use.
type Pool struct {
	cfg rpc.ClientConfig

	mu      sync.Mutex
	clients map[string]*rpc.Client // by address
	closed  bool
}

var _ Clients = (*Pool)(nil)

// NewPool returns an empty pool whose clients use cfg (CAPEM and Token are
// required by rpc.Dial; a pool without them fails each Client call).
func NewPool(cfg rpc.ClientConfig) *Pool {
	return &Pool{cfg: cfg, clients: map[string]*rpc.Client{}}
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
	if c, ok := p.clients[r.Address]; ok {
		return c, nil
	}
	c, err := rpc.Dial(ctx, r.Address, p.cfg) // does not block on the network
	if err != nil {
		return nil, fmt.Errorf("runner %s: %w", r.ID, err)
	}
	p.clients[r.Address] = c
	return c, nil
}

// Release closes the client of r's address, if there is one. Calls in
// flight on it fail; the next Client call dials again.
func (p *Pool) Release(r ci.Runner) {
	p.mu.Lock()
	c, ok := p.clients[r.Address]
	delete(p.clients, r.Address)
	p.mu.Unlock()
	if ok {
		c.Close()
	}
}

// Close closes every client; later Client calls fail with ci.ErrClosed.
func (p *Pool) Close() error {
	p.mu.Lock()
	clients := p.clients
	p.clients, p.closed = map[string]*rpc.Client{}, true
	p.mu.Unlock()
	var errs []error
	for _, c := range clients {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
