package docker

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/network"

	"github.com/narwhal-ci/narwhal/internal/netguard"
)

// The engine rebuilds its isolation rules between bridge networks each time it
// creates one, and for that moment a container on one network can connect to
// any other (see package netguard). When jobs are isolated (Config.Isolation
// other than IsolationNone), the executor therefore names the bridge of every
// network it creates (BridgePrefix and random hex) and protects it with a rule
// of its own before the first container joins it; the default bridge, when
// jobs share it, is protected from narwhal's bridges.

// BridgePrefix begins the Linux bridge name of every network the executor
// creates.
const BridgePrefix = "narw"

// bridgeOption is the network option that names a network's Linux bridge.
const bridgeOption = "com.docker.network.bridge.name"

// unguardedWarning says what running without a guard means.
const unguardedWarning = "jobs are kept apart only by the engine's own rules, which it rebuilds each time it creates a network: for that moment a job can connect to another job's containers"

// guard is the executor's netguard.Guard and the bridges it protects.
type guard struct {
	g       *netguard.Guard // nil: nothing is protected
	mu      sync.Mutex
	bridges map[string]string // network name → bridge name
}

// openGuard opens the guard of this runner, or says why it cannot: the
// engine's bridges are not in this network namespace (a remote engine), or
// the process may not change nftables. In IsolationStrict that is an error;
// otherwise a warning, and jobs run unguarded.
func (e *Executor) openGuard(ctx context.Context, defaultBridge network.Inspect) error {
	g, err := e.tryGuard(defaultBridge)
	if err != nil {
		if e.cfg.Isolation == IsolationStrict {
			return fmt.Errorf("docker executor: %w", err)
		}
		e.log.WarnContext(ctx, unguardedWarning, "error", err)
		return nil
	}
	e.guard.g = g
	return nil
}

func (e *Executor) tryGuard(defaultBridge network.Inspect) (*netguard.Guard, error) {
	name := defaultBridge.Options[bridgeOption]
	if name == "" {
		name = "docker0"
	}
	if _, err := net.InterfaceByName(name); err != nil {
		return nil, fmt.Errorf("the engine's default bridge %s is not on this host (a remote engine?): %w", name, err)
	}
	h := fnv.New32a()
	h.Write([]byte(e.cfg.RunnerID))
	g, err := netguard.Open(fmt.Sprintf("narwhal_%08x", h.Sum32()))
	if err != nil {
		return nil, fmt.Errorf("guard the job networks (runnerd needs CAP_NET_ADMIN): %w", err)
	}
	if e.slots == nil { // jobs share the default bridge
		if err := g.Protect(netguard.Rule{Into: name, From: BridgePrefix}); err != nil {
			return nil, errors.Join(err, g.Close())
		}
	}
	return g, nil
}

// newNetwork creates the bridge network name with labels, protected by the
// guard (when there is one) before it exists. A network of that name that
// exists already (a slot network Sweep could not remove) is kept, and its
// bridge protected instead.
func (e *Executor) newNetwork(ctx context.Context, name string, labels map[string]string) error {
	opts := network.CreateOptions{Driver: "bridge", Labels: labels}
	if e.guard.g != nil {
		bridge := BridgePrefix + randomHex(6)[:netguard.MaxNameLen-len(BridgePrefix)]
		if err := e.protect(name, bridge); err != nil {
			return err
		}
		opts.Options = map[string]string{bridgeOption: bridge}
	}
	_, err := e.api.NetworkCreate(ctx, name, opts)
	switch {
	case !cerrdefs.IsConflict(err):
		return err
	case e.guard.g == nil:
		return nil
	}
	old, err := e.api.NetworkInspect(ctx, name, network.InspectOptions{})
	if err != nil {
		return fmt.Errorf("inspect network %s: %w", name, err)
	}
	bridge := old.Options[bridgeOption]
	if bridge == "" {
		bridge = "br-" + old.ID[:12] // the engine's own name for it
	}
	return errors.Join(e.networkGone(name), e.protect(name, bridge))
}

// protect adds the rule of bridge, the bridge of network name.
func (e *Executor) protect(name, bridge string) error {
	if err := e.guard.g.Protect(netguard.Rule{Into: bridge}); err != nil {
		return err
	}
	e.guard.mu.Lock()
	e.guard.bridges[name] = bridge
	e.guard.mu.Unlock()
	return nil
}

// networkGone drops the rule of network name, once it is removed.
func (e *Executor) networkGone(name string) error {
	if e.guard.g == nil {
		return nil
	}
	e.guard.mu.Lock()
	bridge, ok := e.guard.bridges[name]
	delete(e.guard.bridges, name)
	e.guard.mu.Unlock()
	if !ok {
		return nil
	}
	return e.guard.g.Release(netguard.Rule{Into: bridge})
}

// closeGuard deletes the guard's table: call it after the last network is
// gone.
func (e *Executor) closeGuard() error {
	if e.guard.g == nil {
		return nil
	}
	return e.guard.g.Close()
}
