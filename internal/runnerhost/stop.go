package runnerhost

import (
	"context"
	"errors"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/engine"
	"github.com/narwhal-ci/narwhal/internal/executor/pick"
	"github.com/narwhal-ci/narwhal/internal/runner"
)

// Shutdown budgets beyond the drain deadline.
const (
	// TeardownMargin is how long jobs cancelled or cut off get to tear down
	// (containers removed, log closed, report enqueued).
	TeardownMargin = engine.DefaultTeardownTimeout + runner.LogCloseTimeout
	// FlushTimeout is how long the outbox gets to publish what is left; the
	// rest stays on disk for the next start.
	FlushTimeout = 5 * time.Second
	// StopTimeout is how long in-flight RPCs get before the server stops.
	StopTimeout = 5 * time.Second
)

// Stop says how StopJobs ends the running jobs.
type Stop struct {
	// Drain is how long running jobs may go on before they are handed back
	// for requeue (runnerd's drain on SIGTERM).
	Drain time.Duration
	// Cancel cancels the running jobs at once instead (`narwhal dev`'s
	// Ctrl-C): they end cancelled, not requeued.
	Cancel bool
	// Cut, when it yields, hands the running jobs back now (a second SIGTERM).
	Cut <-chan struct{}
}

// StopJobs stops taking jobs (health NOT_SERVING, draining), ends the running
// ones as s says and waits until they are torn down and reported, up to
// s.Drain + TeardownMargin. It returns the IDs of the jobs that were running.
func (h *Host) StopJobs(ctx context.Context, s Stop) []string {
	h.health.SetServing(false)
	drain := s.Drain
	if s.Cancel {
		drain = TeardownMargin
	}
	if err := h.runner.Drain(ctx, drain); err != nil && !errors.Is(err, ci.ErrClosed) {
		h.log.Warn("drain", "err", err)
	}
	st, err := h.runner.Stats(ctx)
	if err != nil {
		h.log.Warn("stats at shutdown", "err", err)
	}
	if s.Cancel {
		h.cancelAll(ctx, st.Running)
	}
	h.wait(ctx, s.Drain+TeardownMargin, s.Cut)
	return st.Running
}

func (h *Host) cancelAll(ctx context.Context, ids []string) {
	for _, id := range ids {
		if err := h.runner.Cancel(ctx, id); err != nil && !errors.Is(err, ci.ErrNotFound) {
			h.log.Warn("cancel at shutdown", "job_id", id, "err", err)
		}
	}
}

// wait waits for the running jobs up to limit; cut hands them back at once.
func (h *Host) wait(ctx context.Context, limit time.Duration, cut <-chan struct{}) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.runner.Wait(ctx) }()
	for {
		select {
		case err := <-done:
			if err != nil {
				h.log.Warn("jobs still running at shutdown", "err", err)
			}
			return
		case <-cut:
			h.log.Warn("handing running jobs back now")
			h.runner.Drain(ctx, time.Millisecond)
			cut = nil
		}
	}
}

// Close ends the runner (a last offline heartbeat), gives the outbox
// FlushTimeout to publish, stops the gRPC server (gracefully for
// StopTimeout) and releases the rest.
func (h *Host) Close(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, TeardownMargin)
	if err := h.runner.Close(cctx); err != nil {
		h.log.Warn("close runner", "err", err)
	}
	cancel()
	fctx, cancel := context.WithTimeout(ctx, FlushTimeout)
	if err := h.outbox.Flush(fctx); err != nil {
		h.log.Warn("reports left in the outbox for the next start", "pending", h.outbox.Pending(), "err", err)
	}
	cancel()
	stopped := make(chan struct{})
	go func() { h.grpc.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(StopTimeout):
		h.grpc.Stop()
	}
	h.Release()
}

// Release frees what Open made without a shutdown (for a host that failed to
// start, or after Close): the server, the listener, the outbox, and the
// executor (after a last sweep with SweepOnClose). It is idempotent.
func (h *Host) Release() {
	if h.grpc != nil {
		h.grpc.Stop()
	}
	if h.cfg.Listener != nil {
		h.cfg.Listener.Close()
	}
	if h.outbox != nil {
		h.outbox.Close()
	}
	if h.cfg.SweepOnClose && h.exec.Sweep != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if n, err := h.exec.Sweep(ctx); err != nil {
			h.log.Warn("sweep executor", "err", err)
		} else if n > 0 {
			h.log.Info("removed leftovers of the executor", "count", n)
		}
		cancel()
	}
	h.exec.Close()
	h.exec = pick.Built{}
}
