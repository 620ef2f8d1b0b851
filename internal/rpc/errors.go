package rpc

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// toStatus turns an error of a RunnerService implementation into the gRPC
// status the server answers with (see the table in docs/rpc.md).
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codeOf(err), err.Error())
}

func codeOf(err error) codes.Code {
	switch {
	case errors.Is(err, ErrInvalidJob):
		return codes.InvalidArgument
	case errors.Is(err, ci.ErrNotFound):
		return codes.NotFound
	case errors.Is(err, ci.ErrClosed):
		return codes.Unavailable
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	}
	return codes.Internal
}

// withSentinel wraps the error of a call for the caller when its code has a
// domain meaning: NotFound also matches ci.ErrNotFound, and InvalidArgument
// matches invalid (ErrInvalidJob for Run). The gRPC status stays reachable:
// status.Code(err) still works on the result.
func withSentinel(err, invalid error) error {
	switch status.Code(err) {
	case codes.NotFound:
		return fmt.Errorf("%w: %w", ci.ErrNotFound, err)
	case codes.InvalidArgument:
		if invalid != nil {
			return fmt.Errorf("%w: %w", invalid, err)
		}
	}
	return err
}
