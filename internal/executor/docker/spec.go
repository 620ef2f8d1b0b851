package docker

import (
	"maps"
	"math"
	"path"
	"slices"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"

	"github.com/narwhal-ci/narwhal/internal/executor"
)

// Labels on every container, network and volume the executor creates.
const (
	LabelManaged = "io.narwhal.managed" // always "true"
	LabelRunner  = "io.narwhal.runner"  // Config.RunnerID
	LabelJob     = "io.narwhal.job"     // executor.Job.ID
	LabelStep    = "io.narwhal.step"    // executor.Step.Name, on step containers
	LabelService = "io.narwhal.service" // executor.Service.Name, on service containers
)

// shell runs a step's script; -e stops it at the first failing command.
var shell = []string{"/bin/sh", "-e", "-c"}

// containerSpec translates a step into the configuration of its container.
// network is the job's network (its own, or the slot network it holds), or ""
// (the step then uses cfg.Network, by default the engine's bridge). It is pure.
func containerSpec(cfg Config, job *executor.Job, step *executor.Step, network string) (*container.Config, *container.HostConfig, *network.NetworkingConfig) {
	cc := &container.Config{
		Image:        step.Image,
		Entrypoint:   append(append([]string(nil), shell...), executor.Script(step.Commands)),
		Env:          envList(step.Env),
		WorkingDir:   path.Join(executor.Workdir, step.WorkingDir),
		Labels:       labels(cfg, job, LabelStep, step.Name),
		AttachStdout: true,
		AttachStderr: true,
		StopTimeout:  stopSeconds(cfg),
	}
	hc := hostConfig(cfg, network)
	hc.Mounts = []mount.Mount{{Type: mount.TypeBind, Source: job.Workspace, Target: executor.Workdir}}
	// Output goes to the attached stream only: no copy on the engine's disk.
	hc.LogConfig = container.LogConfig{Type: "none"}
	return cc, hc, endpoints(network, nil)
}

// serviceSpec translates a service into the configuration of its container,
// on the job's network under the service's name. It is pure.
func serviceSpec(cfg Config, job *executor.Job, svc *executor.Service, network string) (*container.Config, *container.HostConfig, *network.NetworkingConfig) {
	cc := &container.Config{
		Image:       svc.Image,
		Cmd:         svc.Command,
		Env:         envList(svc.Env),
		Labels:      labels(cfg, job, LabelService, svc.Name),
		StopTimeout: stopSeconds(cfg),
	}
	return cc, hostConfig(cfg, network), endpoints(network, []string{svc.Name})
}

// hostConfig holds what steps and services share: limits, hardening, network.
func hostConfig(cfg Config, network string) *container.HostConfig {
	withInit := true
	hc := &container.HostConfig{
		Init:        &withInit, // forwards SIGTERM to the shell and reaps zombies
		Privileged:  false,
		CapDrop:     append([]string(nil), cfg.CapDrop...),
		SecurityOpt: []string{"no-new-privileges"},
		NetworkMode: container.NetworkMode(cfg.Network),
	}
	if network != "" {
		hc.NetworkMode = container.NetworkMode(network)
	}
	if cfg.Memory > 0 {
		hc.Memory = cfg.Memory
		hc.MemorySwap = cfg.Memory // equal to Memory: no swap
	}
	if cfg.CPUs > 0 {
		hc.NanoCPUs = int64(math.Round(cfg.CPUs * 1e9))
	}
	if cfg.PidsLimit > 0 {
		limit := cfg.PidsLimit
		hc.PidsLimit = &limit
	}
	return hc
}

// endpoints attaches a container to network under aliases; nil for "".
func endpoints(name string, aliases []string) *network.NetworkingConfig {
	if name == "" {
		return nil
	}
	return &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		name: {Aliases: aliases},
	}}
}

// labels returns the labels of an object of job; kind and name describe it
// (LabelStep or LabelService and its name), or kind is "" for job objects.
func labels(cfg Config, job *executor.Job, kind, name string) map[string]string {
	l := map[string]string{
		LabelManaged: "true",
		LabelRunner:  cfg.RunnerID,
		LabelJob:     job.ID,
	}
	if kind != "" {
		l[kind] = name
	}
	return l
}

// envList returns env as KEY=value entries sorted by key.
func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// stopSeconds is cfg.StopGrace in whole seconds, rounded up, as Docker wants.
func stopSeconds(cfg Config) *int {
	s := int((cfg.StopGrace + time.Second - 1) / time.Second)
	return &s
}
