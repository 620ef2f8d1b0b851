package awscount

import (
	"context"
	"log/slog"
)

// LogMessage is the message of the line Logged writes per invocation.
const LogMessage = "aws calls"

// Logged wraps a Lambda handler: after each invocation it logs the Tally of
// the AWS calls made since the previous one (the first invocation's
// includes the cold start's) under "aws", and counts anew. Invocations of
// one execution environment never overlap, so each line is one
// invocation's cost.
func Logged[E, R any](c *Counter, log *slog.Logger, fn func(context.Context, E) (R, error)) func(context.Context, E) (R, error) {
	return func(ctx context.Context, ev E) (R, error) {
		r, err := fn(ctx, ev)
		log.InfoContext(ctx, LogMessage, "aws", c.Take())
		return r, err
	}
}
