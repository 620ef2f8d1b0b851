package rpc

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/narwhal-ci/narwhal/internal/retry"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Retry is a Client's backoff for retryable failures.
type Retry struct {
	// Attempts is how many times a call is tried in all; 0 means 5, and 1
	// turns retries off.
	Attempts int
	// Initial is the first pause, doubled after each attempt up to Max, with
	// ±20% jitter. 0 means 100ms; Max 0 means 2s.
	Initial, Max time.Duration
}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = 5
	}
	if r.Initial <= 0 {
		r.Initial = 100 * time.Millisecond
	}
	if r.Max <= 0 {
		r.Max = 2 * time.Second
	}
	r.Max = max(r.Max, r.Initial)
	return r
}

// delay is the pause after the given attempt (1 for the first).
func (r Retry) delay(attempt int) time.Duration {
	d := r.Initial
	for i := 1; i < attempt && d < r.Max; i++ {
		d *= 2
	}
	d = min(d, r.Max)
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * jitter)
}

// op describes a method for the retry loop.
type op struct {
	name string
	// idempotent: safe to try again after an attempt timed out, though the
	// runner may have done it.
	idempotent bool
	// invalid is the sentinel an InvalidArgument answer also matches.
	invalid error
}

var (
	opRun      = op{name: "Run", idempotent: true, invalid: ErrInvalidJob} // the runner dedups by job ID
	opRunBatch = op{name: "RunBatch", idempotent: true}                    // each of its Runs is
	opCancel   = op{name: "Cancel", idempotent: true}
	opDrain    = op{name: "Drain", idempotent: true}
	opStats    = op{name: "Stats", idempotent: true}
	opHealth   = op{name: "Health", idempotent: true}
)

// call runs do, each attempt under CallTimeout, retrying retryable failures
// with backoff until the attempts are spent or ctx ends.
func (c *Client) call(ctx context.Context, o op, do func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		err := c.attempt(ctx, do)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("runner %s: %s: %w (last error: %w)", c.addr, o.name, context.Cause(ctx), err)
		case attempt >= c.cfg.Retry.Attempts || !c.retryable(err, o.idempotent):
			return c.fail(o, err)
		}
		pause := c.cfg.Retry.delay(attempt)
		c.log.Debug("rpc: retrying", "runner", c.addr, "method", o.name,
			"attempt", attempt, "pause", pause, "err", err)
		if !retry.Sleep(ctx, pause) {
			return fmt.Errorf("runner %s: %s: %w (last error: %w)", c.addr, o.name, context.Cause(ctx), err)
		}
	}
}

func (c *Client) attempt(ctx context.Context, do func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	return do(ctx)
}

// retryable: Unavailable, unless the runner's certificate is not trusted (a
// retry would not change that); DeadlineExceeded of an attempt for
// idempotent calls.
func (c *Client) retryable(err error, idempotent bool) bool {
	switch status.Code(err) {
	case codes.Unavailable:
		return c.tls.untrusted(err) == nil
	case codes.DeadlineExceeded:
		return idempotent
	}
	return false
}

// fail wraps the final error of a call: with the certificate error when
// that was the cause, and with the sentinel its code stands for.
func (c *Client) fail(o op, err error) error {
	if verr := c.tls.untrusted(err); verr != nil {
		return fmt.Errorf("runner %s: %s: certificate not trusted: %w (%w)", c.addr, o.name, verr, err)
	}
	return fmt.Errorf("runner %s: %s: %w", c.addr, o.name, withSentinel(err, o.invalid))
}
