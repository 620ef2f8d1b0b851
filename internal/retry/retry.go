// Package retry holds the two small pieces every retry loop of narwhal needs:
// a pause that ends early when the context does, and jitter so that clients
// that failed together do not retry in lockstep.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Sleep pauses for d, or less when ctx ends first; it reports whether ctx is
// still alive, so loops read `if !retry.Sleep(ctx, d) { return ctx.Err() }`.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Jitter returns a random duration between d/2 and d.
func Jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	half := d / 2
	return half + rand.N(half+1)
}
