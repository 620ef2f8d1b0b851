package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/narwhal-ci/narwhal/internal/executor"
	"github.com/narwhal-ci/narwhal/internal/executor/docker"
	"github.com/narwhal-ci/narwhal/internal/executor/host"
)

// chosenExecutor is the executor a command runs jobs on, with what must be
// released when the command ends.
type chosenExecutor struct {
	executor.Executor
	close func()
}

// newExecutor builds the executor named by kind: docker, host, or auto (Docker
// when a daemon answers within a few seconds, otherwise host with a warning).
func newExecutor(ctx context.Context, kind, runnerID string, logger *slog.Logger) (chosenExecutor, error) {
	switch kind {
	case "docker":
		return newDocker(ctx, runnerID, logger)
	case "host":
		return chosenExecutor{Executor: host.New(logger), close: func() {}}, nil
	case "auto":
		ex, err := newDocker(ctx, runnerID, logger)
		if err == nil {
			return ex, nil
		}
		logger.Warn("Docker is not available; falling back to the host executor", "err", err)
		return chosenExecutor{Executor: host.New(logger), close: func() {}}, nil
	default:
		return chosenExecutor{}, fmt.Errorf("unknown executor %q (want auto, docker or host)", kind)
	}
}

func newDocker(ctx context.Context, runnerID string, logger *slog.Logger) (chosenExecutor, error) {
	d, err := docker.Connect(ctx, docker.Config{RunnerID: runnerID}, logger)
	if err != nil {
		return chosenExecutor{}, fmt.Errorf("docker: %w", err)
	}
	return chosenExecutor{Executor: d, close: func() { d.Close() }}, nil
}
