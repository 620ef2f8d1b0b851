package docker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/docker/docker/api/types/network"
)

// Isolation modes of Config.Isolation: how jobs without services are kept
// from reaching each other. Jobs with services always get a network of their
// own.
const (
	// IsolationNone puts jobs without services on Config.Network (by default
	// the engine's bridge) unchecked: for a single local job (`narwhal exec`).
	IsolationNone = ""
	// IsolationAuto keeps jobs on the default bridge when the daemon has
	// inter-container communication off there ("icc": false in daemon.json),
	// which isolates at no cost; otherwise it warns and uses slot networks.
	IsolationAuto = "auto"
	// IsolationSlot always uses slot networks.
	IsolationSlot = "slot"
	// IsolationStrict refuses to start unless the default bridge has icc off.
	IsolationStrict = "strict"
)

// LabelSlot marks a slot network (with LabelManaged and LabelRunner, but no
// LabelJob: it outlives jobs). Sweep removes slot networks a crash left.
const LabelSlot = "io.narwhal.slot"

// iccOption is the default bridge's option for inter-container communication.
const iccOption = "com.docker.network.bridge.enable_icc"

// slotPool hands out the runner's slot networks: one bridge network per job
// running at a time, created when no free one is left and reused by the next
// job. A network is held by one job at a time, so jobs that run at the same
// time are on different networks and cannot reach each other.
type slotPool struct {
	mu   sync.Mutex
	free []string          // network names not held by a job
	all  []string          // every network created, for Close
	held map[string]string // job ID → network name
}

// isolate decides, once at start, how jobs without services are isolated: it
// sets up the slot pool when they need one, and the guard of the networks of
// isolated jobs (guard.go).
func (e *Executor) isolate(ctx context.Context) error {
	mode := e.cfg.Isolation
	switch {
	case mode == IsolationNone || e.cfg.Network != "" && mode == IsolationAuto:
		return nil
	case mode != IsolationAuto && mode != IsolationStrict && mode != IsolationSlot:
		return fmt.Errorf("docker executor: isolation %q: want auto, slot or strict", mode)
	}
	bridge, err := e.api.NetworkInspect(ctx, "bridge", network.InspectOptions{})
	if err != nil {
		return fmt.Errorf("inspect the default bridge: %w", err)
	}
	switch {
	case mode == IsolationSlot:
		e.slots = &slotPool{held: make(map[string]string)}
	case bridge.Options[iccOption] == "false":
	case mode == IsolationStrict:
		return errors.New(`docker executor: the default bridge lets containers reach each other; set "icc": false in /etc/docker/daemon.json and restart dockerd`)
	default:
		e.log.WarnContext(ctx, `the default bridge lets containers reach each other: each job slot gets a network of its own, which costs time per job; set "icc": false in /etc/docker/daemon.json`)
		e.slots = &slotPool{held: make(map[string]string)}
	}
	return e.openGuard(ctx, bridge)
}

// takeSlot gives job a free slot network, creating one if none is free.
func (e *Executor) takeSlot(ctx context.Context, jobID string) (string, error) {
	p := e.slots
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		name := p.free[n-1]
		p.free = p.free[:n-1]
		p.held[jobID] = name
		p.mu.Unlock()
		return name, nil
	}
	name := "narwhal-" + e.cfg.RunnerID + "-slot-" + strconv.Itoa(len(p.all))
	p.all = append(p.all, name)
	p.held[jobID] = name
	p.mu.Unlock()
	err := e.newNetwork(ctx, name, map[string]string{
		LabelManaged: "true", LabelRunner: e.cfg.RunnerID, LabelSlot: strconv.Itoa(len(p.all) - 1)})
	if err != nil {
		p.mu.Lock()
		delete(p.held, jobID)
		p.mu.Unlock()
		return "", fmt.Errorf("create slot network %s: %w", name, err)
	}
	return name, nil
}

// slotOf returns the slot network job holds, if any.
func (e *Executor) slotOf(jobID string) (string, bool) {
	if e.slots == nil {
		return "", false
	}
	e.slots.mu.Lock()
	defer e.slots.mu.Unlock()
	name, ok := e.slots.held[jobID]
	return name, ok
}

// releaseSlot returns the network of job to the pool once its containers are
// gone; when they may not be (reuse false), the network is not handed out
// again.
func (e *Executor) releaseSlot(jobID string, reuse bool) {
	if e.slots == nil {
		return
	}
	p := e.slots
	p.mu.Lock()
	defer p.mu.Unlock()
	if name, ok := p.held[jobID]; ok && reuse {
		p.free = append(p.free, name)
	}
	delete(p.held, jobID)
}

// removeSlots removes every slot network, bounded by SlotRemoveTimeout.
func (e *Executor) removeSlots() error {
	if e.slots == nil {
		return nil
	}
	e.slots.mu.Lock()
	names := append([]string(nil), e.slots.all...)
	e.slots.all, e.slots.free = nil, nil
	e.slots.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), SlotRemoveTimeout)
	defer cancel()
	_, err := removeEach("network", names, func(name string) error { return e.api.NetworkRemove(ctx, name) })
	return err
}

// SlotRemoveTimeout bounds the removal of the slot networks by Close.
const SlotRemoveTimeout = 20 * time.Second
