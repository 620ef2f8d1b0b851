package main

import (
	"context"
	"log/slog"

	"github.com/narwhal-ci/narwhal/internal/executor/docker"
	"github.com/narwhal-ci/narwhal/internal/executor/pick"
)

// newExecutor builds the executor named by kind (pick: docker, host, or auto,
// which falls back to the host executor with a warning when Docker does not
// answer).
func newExecutor(ctx context.Context, kind, runnerID string, logger *slog.Logger) (pick.Built, error) {
	ex, err := pick.Build(ctx, pick.Options{Kind: kind, Docker: docker.Config{RunnerID: runnerID}}, logger)
	if err == nil && ex.Fallback != nil {
		logger.Warn("Docker is not available; falling back to the host executor", "err", ex.Fallback)
	}
	return ex, err
}
