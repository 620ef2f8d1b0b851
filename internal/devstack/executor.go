package devstack

import (
	"context"
	"log/slog"

	"github.com/narwhal-ci/narwhal/internal/executor/docker"
	"github.com/narwhal-ci/narwhal/internal/executor/pick"
)

// Executor kinds of Config.Executor: pick's, and Config.Exec for tests.
const (
	ExecAuto   = pick.Auto   // Docker when a daemon answers, else host
	ExecDocker = pick.Docker // steps in containers
	ExecHost   = pick.Host   // steps on this machine, no isolation, no services
	ExecCustom = "custom"    // Config.Exec (tests)
)

// chooseExecutor resolves Config.Executor to the kind every runner uses
// (pick.Build with a probe runner ID): auto becomes docker when a daemon
// answers, else host, with why (the warning is the caller's to print).
func chooseExecutor(ctx context.Context, cfg Config, log *slog.Logger) (kind string, why error, err error) {
	if cfg.Exec != nil {
		return ExecCustom, nil, nil
	}
	if cfg.Executor == ExecHost {
		return ExecHost, nil, nil
	}
	probe, err := pick.Build(ctx, pick.Options{Kind: cfg.Executor, Docker: docker.Config{RunnerID: "dev-probe"}}, log)
	if err != nil {
		return "", nil, err
	}
	probe.Close()
	return probe.Kind, probe.Fallback, nil
}

// executorFactory returns how each runner gets its executor of kind. Docker
// executors are one per runner, because the runner's ID labels what they
// create and their Sweep removes what carries it.
func executorFactory(kind string, cfg Config, log *slog.Logger) func(ctx context.Context, runnerID string) (pick.Built, error) {
	return func(ctx context.Context, runnerID string) (pick.Built, error) {
		if kind == ExecCustom {
			return pick.Built{Executor: cfg.Exec}, nil
		}
		return pick.Build(ctx, pick.Options{Kind: kind, Docker: docker.Config{RunnerID: runnerID}}, log.With("runner_id", runnerID))
	}
}
