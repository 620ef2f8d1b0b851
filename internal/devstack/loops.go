package devstack

import (
	"context"
	"time"

	"github.com/narwhal-ci/narwhal/internal/artifact"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/dispatch"
	"github.com/narwhal-ci/narwhal/internal/github"
	"github.com/narwhal-ci/narwhal/internal/intake"
	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/runnerkey"
)

// sweepAge is how old an unpublished job must be before the intake sweep
// publishes it (younger ones may still be in their Accept).
const sweepAge = 10 * time.Second

// dispatcher builds the dispatcher: an RPC client pool with the runners' CA
// and the runners' fleet key (closed with the stack), and the intake and
// artifact sweeps for its monitor.
func (s *Stack) dispatcher() *dispatch.Dispatcher {
	in := &intake.Intake{Store: s.store, Queue: s.queue, Logger: s.log}
	fleet := runnerkey.Fleet{s.sec.fleetKey}
	pool := dispatch.NewPool(rpc.ClientConfig{CAPEM: s.sec.certPEM, Logger: s.log}, fleet)
	s.closers = append(s.closers, func() { pool.Close() })
	local := github.NewConfigFetcher(nil) // narwhal.yml and diffs of local repositories: git
	return dispatch.New(dispatch.Config{WaitDelay: 2 * time.Second, Lease: 3 * s.cfg.Heartbeat, RunnerKeys: fleet,
		CancelSupersededPushes: s.cfg.CancelSupersededPushes}, dispatch.Deps{
		Store: s.store, Queue: s.queue, Clients: pool, Credentials: s.creds, Logger: s.log,
		Secrets: s.vault, SecretNames: local, Filter: local,
		Sweep:          func(ctx context.Context) (int, error) { return in.Sweep(ctx, sweepAge) },
		SweepArtifacts: s.sweepArtifacts,
		Changed:        func(_ context.Context, j ci.Job) { s.metrics.observeJob(j) },
	})
}

// sweepArtifacts deletes the artifacts in the stack's blob store whose
// expiry day ended before now: the monitor's artifact sweep.
func (s *Stack) sweepArtifacts(ctx context.Context, now time.Time) (int, error) {
	return artifact.SweepExpired(ctx, s.blobs, now)
}

// loop is one background loop of the stack, stopped on its own.
type loop struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// stop ends the loop and waits for it.
func (l loop) stop() {
	l.cancel()
	<-l.done
}

// loops are the dispatcher's loops: the job consumer, the event consumer and
// the monitor. Shutdown stops them at different moments.
type loops struct{ jobs, events, monitor loop }

// startLoops starts the consumer of ci.QueueEvents and the monitor ticker,
// waits (a few seconds at most) until every runner's registration is in the
// store, so that the first job finds them, and then starts the consumer of
// ci.QueueJobs. A consumer that stops by itself fails the stack.
func (s *Stack) startLoops(ctx context.Context, fail context.CancelCauseFunc) loops {
	var l loops
	l.events = s.goLoop(ctx, fail, func(ctx context.Context) error {
		return dispatch.Consume(ctx, s.queue, ci.QueueEvents, eventPrefetch, s.handleEvent)
	})
	l.monitor = s.goLoop(ctx, fail, func(ctx context.Context) error { s.ctl.RunMonitor(ctx, s.cfg.MonitorEvery); return nil })
	s.awaitRegistered(ctx)
	slots := max(s.cfg.Runners*s.cfg.Capacity, 4)
	l.jobs = s.goLoop(ctx, fail, func(ctx context.Context) error {
		return dispatch.Consume(ctx, s.queue, ci.QueueJobs, slots, s.handleJob)
	})
	return l
}

// registerWait bounds how long the start waits for the runners' registrations.
const registerWait = 10 * time.Second

// awaitRegistered waits until the store lists every runner of the stack as
// active, or registerWait passed.
func (s *Stack) awaitRegistered(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, registerWait)
	defer cancel()
	for {
		rs, err := s.store.ListRunners(ctx)
		if err == nil && countActive(rs, s.runners) == len(s.runners) {
			return
		}
		select {
		case <-ctx.Done():
			s.log.Warn("runners not registered yet; jobs wait for them", "err", context.Cause(ctx))
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// countActive counts the runners of ours that rs lists as active.
func countActive(rs []ci.Runner, ours []*devRunner) int {
	n := 0
	for _, r := range rs {
		for _, dr := range ours {
			if r.ID == dr.id && r.State == ci.RunnerActive && r.Address == dr.addr() {
				n++
			}
		}
	}
	return n
}

// goLoop runs f in a goroutine on a context of its own: it carries ctx's
// values but not its end, because shutdown stops each loop at its moment. An
// error of f fails the stack.
func (s *Stack) goLoop(ctx context.Context, fail context.CancelCauseFunc, f func(context.Context) error) loop {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l := loop{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		if err := f(ctx); err != nil {
			s.fail(err)
			fail(err)
		}
	}()
	return l
}

// eventPrefetch is how many runner reports are applied at once. The
// dispatcher applies reports only forward, so order between them does not
// matter.
const eventPrefetch = 4

// handleJob dispatches a job message and times it.
func (s *Stack) handleJob(ctx context.Context, d ci.Delivery) error {
	start := time.Now()
	err := s.ctl.HandleJob(ctx, d)
	s.metrics.dispatch.Observe(time.Since(start).Seconds())
	s.logFailure(ctx, ci.QueueJobs, d, err)
	return err
}

// handleEvent applies a runner report (the metrics learn what it changed
// through dispatch.Deps.Changed).
func (s *Stack) handleEvent(ctx context.Context, d ci.Delivery) error {
	err := s.ctl.HandleEvent(ctx, d)
	s.logFailure(ctx, ci.QueueEvents, d, err)
	return err
}

// logFailure logs a handler's error (nil logs nothing): the queue gets it
// back and redelivers the message or dead-letters it, but says nothing, and
// the dispatcher returns its errors without logging them.
func (s *Stack) logFailure(ctx context.Context, queue string, d ci.Delivery, err error) {
	if err == nil || ctx.Err() != nil {
		return
	}
	s.log.ErrorContext(ctx, "message handler failed", "queue", queue, "key", d.Key, "kind", d.Headers["kind"],
		"message_id", d.ID, "attempt", d.Attempt, "redelivered", d.Redelivered, "err", err)
}
