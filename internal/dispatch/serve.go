package dispatch

import (
	"context"
	"fmt"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// The loops of a long-running dispatcher (`narwhal dev`, the end-to-end
// tests). In AWS the MQ event sources call HandleJob and HandleEvent and a
// schedule calls Monitor instead.

// Consume runs h on the messages of queue until ctx ends (it then returns
// nil) or the queue stops by itself (an error).
func Consume(ctx context.Context, q ci.Queue, queue string, prefetch int, h ci.Handler) error {
	err := q.Consume(ctx, queue, prefetch, h)
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("consume %s: %w", queue, err)
}

// RunMonitor runs Monitor every interval until ctx ends, logging what a run
// did (when it did anything) and its errors.
func (d *Dispatcher) RunMonitor(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		res, err := d.Monitor(ctx)
		if err != nil && ctx.Err() == nil {
			d.log.Warn("monitor", "err", err)
		}
		if res != (MonitorResult{}) {
			d.log.Info("monitor", "result", res)
		}
	}
}
