// Package executor defines how the engine runs a job's containers, whatever
// runs them: Docker (executor/docker, the only importer of the Docker SDK), the
// host shell (executor/host, no isolation) or a script (executor/fake).
package executor

import (
	"context"
	"io"
	"time"
)

// Workdir is the fixed path at which every step sees the job's workspace.
const Workdir = "/workspace"

// Executor runs the steps of one job at a time per Job value; one Executor
// serves many jobs concurrently.
//
// Call order per job: Setup once, then Run for each step (possibly
// concurrently for independent steps), then Teardown once. Teardown must be
// called even when Setup failed, and must remove everything Setup and Run
// created; it is idempotent and best-effort, and runs on a context that is not
// the (possibly cancelled) job context.
//
// Errors: an error from Setup or Run means the executor could not do its part
// (no daemon, image pull failed, ...). A step whose commands fail is not an
// error: Run returns a Result with a non-zero ExitCode. Cancellation of ctx
// stops the step (SIGTERM, then SIGKILL after the grace period) and Run returns
// the Result with Cancelled set.
type Executor interface {
	Setup(ctx context.Context, job *Job) error
	Run(ctx context.Context, job *Job, step *Step, out io.Writer) (Result, error)
	Teardown(ctx context.Context, job *Job) error
}

// Job is what an executor needs to know of a job.
type Job struct {
	ID        string
	Workspace string // host directory holding the checked-out tree; mounted at Workdir
	Services  []Service
	// Registries are the credentials to pull the images of their hosts
	// with (steps and services alike); they never reach a container.
	Registries []RegistryAuth
}

// RegistryAuth is a registry host's username and password.
type RegistryAuth struct {
	Host     string // host[:port], as image references name it
	Username string
	Password string
}

// Service is a sidecar container, reachable from steps by Name.
type Service struct {
	Name    string
	Image   string
	Env     map[string]string
	Command []string
}

// Step is a step resolved for execution: image defaulted, env merged, secrets
// resolved (their values are in Env), the script built.
type Step struct {
	Name       string
	Image      string
	Commands   []string          // run by /bin/sh -e, each echoed before it runs
	Env        map[string]string // pipeline env, step env, secrets, CI_* variables
	WorkingDir string            // relative to Workdir; "" is Workdir itself
	Timeout    time.Duration     // 0: none (the job timeout still applies through ctx)
}

// Result is how a step's process ended.
type Result struct {
	ExitCode  int
	OOMKilled bool // killed by the kernel for exceeding the memory limit
	TimedOut  bool // stopped because Step.Timeout passed
	Cancelled bool // stopped because ctx ended
	Duration  time.Duration
}

// Script returns the shell script that runs commands: each command is echoed
// with a "+ " prefix before it runs, and `sh -e` stops at the first failure.
func Script(commands []string) string {
	var b []byte
	for _, c := range commands {
		b = append(b, "printf '+ %s\\n' "...)
		b = append(b, shellQuote(c)...)
		b = append(b, '\n')
		b = append(b, c...)
		b = append(b, '\n')
	}
	return string(b)
}

// shellQuote quotes s for a POSIX shell as one word.
func shellQuote(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, `'\''`...)
			continue
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}
