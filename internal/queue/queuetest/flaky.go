package queuetest

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// ErrBrokerDown is what Flaky's Publish returns while it fails.
var ErrBrokerDown = errors.New("broker unreachable")

// Flaky is a ci.Queue whose Publish fails with ErrBrokerDown while Fail is
// set and passes everything else on: for tests of what a publisher does when
// the broker is away.
type Flaky struct {
	ci.Queue
	Fail atomic.Bool
}

// Publish fails while Fail is set, else publishes on the wrapped queue.
func (q *Flaky) Publish(ctx context.Context, m ci.Message) error {
	if q.Fail.Load() {
		return ErrBrokerDown
	}
	return q.Queue.Publish(ctx, m)
}
