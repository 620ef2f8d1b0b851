package main

// This file is for scale tests only: executor.kind "fake" (with
// executor.scale, or NARWHAL_RUNNER_SCALE_TEST=1) makes runnerd run every job
// as a built-in one-step pipeline on an executor that runs nothing, without
// cloning, so that a benchmark measures runnerd itself (RPC, slots, reports,
// logs, workspaces) rather than git and Docker. It is never the production
// path: loadConfig refuses executor.scale with any other executor.

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/narwhal-ci/narwhal/internal/executor/pick"
	"github.com/narwhal-ci/narwhal/internal/runner"

	"github.com/narwhal-ci/narwhal/internal/executor"
	"github.com/narwhal-ci/narwhal/internal/pipeline"
	"github.com/narwhal-ci/narwhal/internal/rpc"
)

// scalePipeline is the pipeline of every job in scale mode.
const scalePipeline = `image: scale
steps:
  - name: scale
    commands: ["echo scale"]
`

// fakeExecutor is the executor of kind fake: each step writes one line per
// command and succeeds at once. Unlike internal/executor/fake it records
// nothing, so that its memory stays flat over any number of jobs. With scale,
// jobs skip the clone and run scalePipeline.
func fakeExecutor(scale bool) (pick.Built, runner.Checkout, error) {
	if scale {
		return pick.Built{Executor: nullExecutor{}}, scaleCheckout{}, nil
	}
	return pick.Built{Executor: nullExecutor{}}, nil, nil
}

// scaleCheckout clones nothing and returns scalePipeline.
type scaleCheckout struct{}

func (scaleCheckout) Checkout(context.Context, string, rpc.Job) (*pipeline.Pipeline, error) {
	return pipeline.Parse("scale.yml", []byte(scalePipeline))
}

// nullExecutor runs nothing: a step prints its commands and exits 0.
type nullExecutor struct{}

var _ executor.Executor = nullExecutor{}

func (nullExecutor) Setup(context.Context, *executor.Job) error    { return nil }
func (nullExecutor) Teardown(context.Context, *executor.Job) error { return nil }

func (nullExecutor) Run(ctx context.Context, _ *executor.Job, s *executor.Step, out io.Writer) (executor.Result, error) {
	start := time.Now()
	if ctx.Err() != nil {
		return executor.Result{ExitCode: 137, Cancelled: true}, nil
	}
	for _, c := range s.Commands {
		if _, err := fmt.Fprintf(out, "+ %s\n", c); err != nil {
			return executor.Result{}, err
		}
	}
	return executor.Result{Duration: time.Since(start)}, nil
}
