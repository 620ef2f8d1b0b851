package devstack

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/narwhal-ci/narwhal/internal/executor"
	"github.com/narwhal-ci/narwhal/internal/executor/docker"
	"github.com/narwhal-ci/narwhal/internal/executor/host"
)

// Executor kinds of Config.Executor.
const (
	ExecAuto   = "auto"   // Docker when a daemon answers, else host
	ExecDocker = "docker" // steps in containers
	ExecHost   = "host"   // steps on this machine, no isolation, no services
	ExecCustom = "custom" // Config.Exec (tests)
)

// builtExecutor is a runner's executor with what goes with it.
type builtExecutor struct {
	executor.Executor
	sweep   func(context.Context) (int, error)  // nil: leaves nothing behind
	reclaim func(context.Context, string) error // nil: leaves nothing the user cannot remove
	close   func() error                        // nil: nothing to release
}

// release removes what the executor may have left (best effort) and closes it.
func (b builtExecutor) release(log *slog.Logger) {
	if b.sweep != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if n, err := b.sweep(ctx); err != nil {
			log.Warn("sweep executor", "err", err)
		} else if n > 0 {
			log.Info("removed leftovers of the executor", "count", n)
		}
		cancel()
	}
	if b.close != nil {
		b.close()
	}
}

// chooseExecutor resolves Config.Executor to the kind every runner uses:
// auto becomes docker when a daemon answers within docker.PingTimeout, else host
// (the warning is the caller's to print).
func chooseExecutor(ctx context.Context, cfg Config, log *slog.Logger) (kind string, why error, err error) {
	if cfg.Exec != nil {
		return ExecCustom, nil, nil
	}
	switch cfg.Executor {
	case ExecDocker, ExecHost:
		return cfg.Executor, nil, nil
	case ExecAuto, "":
		if err := pingDocker(ctx, log); err != nil {
			return ExecHost, err, nil
		}
		return ExecDocker, nil, nil
	}
	return "", nil, fmt.Errorf("unknown executor %q (want auto, docker or host)", cfg.Executor)
}

// pingDocker checks that a Docker daemon answers.
func pingDocker(ctx context.Context, log *slog.Logger) error {
	d, err := docker.Connect(ctx, docker.Config{RunnerID: "dev-probe"}, log)
	if err != nil {
		return err
	}
	return d.Close()
}

// executorFactory returns how each runner gets its executor of kind. Docker
// executors are one per runner, because the runner's ID labels what they
// create and their Sweep removes what carries it.
func executorFactory(kind string, cfg Config, log *slog.Logger) func(ctx context.Context, runnerID string) (builtExecutor, error) {
	return func(ctx context.Context, runnerID string) (builtExecutor, error) {
		switch kind {
		case ExecCustom:
			return builtExecutor{Executor: cfg.Exec}, nil
		case ExecHost:
			return builtExecutor{Executor: host.New(log.With("runner_id", runnerID))}, nil
		}
		d, err := docker.Connect(ctx, docker.Config{RunnerID: runnerID}, log.With("runner_id", runnerID))
		if err != nil {
			return builtExecutor{}, fmt.Errorf("docker executor: %w", err)
		}
		return builtExecutor{Executor: d, sweep: d.Sweep, reclaim: d.Reclaim, close: d.Close}, nil
	}
}
