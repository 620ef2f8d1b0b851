// Package pick builds the executor a process runs jobs on, by kind: the one
// chooser that runnerd, `narwhal dev` and `narwhal exec` share. It imports
// the adapters (docker, host); they do not import it.
package pick

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/narwhal-ci/narwhal/internal/executor"
	"github.com/narwhal-ci/narwhal/internal/executor/docker"
	"github.com/narwhal-ci/narwhal/internal/executor/host"
)

// Executor kinds.
const (
	Auto   = "auto"   // Docker when a daemon answers, else host (with a warning)
	Docker = "docker" // steps in containers
	Host   = "host"   // steps on this machine: no isolation, no services
)

// Options say which executor to build.
type Options struct {
	Kind   string        // Auto, Docker or Host; "" means Auto
	Docker docker.Config // for Docker (and Auto); RunnerID labels what it makes
	// HostGrace is the host executor's stop grace; 0 means its default.
	HostGrace time.Duration
}

// Built is an executor with what goes with it. Close releases it; Sweep and
// Reclaim are nil where the executor has nothing of the kind.
type Built struct {
	executor.Executor
	Kind string // the kind built: Docker or Host
	// Sweep removes what a crash left (containers, networks) of this runner.
	Sweep func(context.Context) (int, error)
	// Reclaim makes a workspace removable that a step's root user wrote into.
	Reclaim func(context.Context, string) error
	close   func() error
	// Fallback is why Auto chose Host: Docker did not answer. Nil otherwise.
	Fallback error
}

// Close releases the executor; it is safe on a zero Built.
func (b Built) Close() error {
	if b.close == nil {
		return nil
	}
	return b.close()
}

// Build builds the executor o names. Docker must answer within
// docker.PingTimeout; with Auto a Docker that does not answer gives the host
// executor, with Fallback saying why (the caller warns).
func Build(ctx context.Context, o Options, log *slog.Logger) (Built, error) {
	switch o.Kind {
	case Host:
		return hostExecutor(o, log), nil
	case Docker:
		return dockerExecutor(ctx, o, log)
	case Auto, "":
		b, err := dockerExecutor(ctx, o, log)
		if err != nil {
			b = hostExecutor(o, log)
			b.Fallback = err
		}
		return b, nil
	}
	return Built{}, fmt.Errorf("unknown executor %q (want auto, docker or host)", o.Kind)
}

func hostExecutor(o Options, log *slog.Logger) Built {
	var opts []host.Option
	if o.HostGrace > 0 {
		opts = append(opts, host.WithGracePeriod(o.HostGrace))
	}
	return Built{Executor: host.New(log, opts...), Kind: Host}
}

func dockerExecutor(ctx context.Context, o Options, log *slog.Logger) (Built, error) {
	d, err := docker.Connect(ctx, o.Docker, log)
	if err != nil {
		return Built{}, fmt.Errorf("docker executor: %w", err)
	}
	return Built{Executor: d, Kind: Docker, Sweep: d.Sweep, Reclaim: d.Reclaim, close: d.Close}, nil
}
