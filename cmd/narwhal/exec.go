package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/narwhal-ci/narwhal/internal/engine"
	"github.com/narwhal-ci/narwhal/internal/pipeline"
	"github.com/narwhal-ci/narwhal/internal/workspace"
)

const execHelp = `Usage: narwhal exec [flags]

Runs the pipeline of the current working tree locally, through the same engine runnerd uses.
The tree is copied into a job workspace (no commit needed); steps run in containers. Each line of
output is prefixed by its step; a summary table ends the run. Exits 1 when the pipeline fails.

Flags:
  -f FILE             the pipeline file (default narwhal.yml)
  --executor KIND     auto (Docker when a daemon answers, else host), docker or host
  --env K=V           an extra environment variable for every step (repeatable)
  --secret K=V        a secret value for steps that name it (repeatable); masked in output
  --branch NAME       the branch for when filters (default: the checked-out branch, else main)
  --event NAME        the event for when filters: push, pull_request, tag or manual (default push)
  --ref REF           the ref for when.ref (default refs/heads/ and the branch); path filters
                      match, as for a job whose changed files are unknown
  -v                  log what narwhal does (debug)

Examples:
  narwhal exec
  narwhal exec -f ci/narwhal.yml --env GOFLAGS=-mod=mod --secret NPM_TOKEN=abc123
  narwhal exec --executor host --branch release --event push
`

// execOptions are the parsed flags of `narwhal exec`.
type execOptions struct {
	file, executor, branch, event, ref string
	env, secrets                       kvFlag
	verbose                            bool
}

func runExec(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := parseExecFlags(args, stderr)
	if err != nil {
		return err
	}
	logger := newLogger(stderr, opts.verbose)
	p, err := pipeline.ParseFile(opts.file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError(1)
	}
	ex, err := newExecutor(ctx, opts.executor, "exec-"+strconv.Itoa(os.Getpid()), logger)
	if err != nil {
		return err
	}
	defer ex.Close()

	jobID := fmt.Sprintf("exec-%d-%d", os.Getpid(), time.Now().UnixNano())
	dir, err := prepareWorkspace(ctx, jobID)
	if err != nil {
		return err
	}
	defer workspace.Remove(dir)

	job := engine.Job{
		ID: jobID, Branch: opts.branch, Event: opts.event, Ref: opts.ref, Workspace: dir, Pipeline: p,
		Env: opts.env.m, Secrets: opts.secrets.m, Hooks: runnerOnly{},
	}
	eng := &engine.Engine{Exec: ex.Executor, Logger: logger}
	out := newDelayedWriter(stdout)
	defer out.Close()
	console := newConsole(out, p)
	report, err := eng.Run(ctx, job, console)
	if err != nil && report.Status == "" {
		return fmt.Errorf("run pipeline: %w", err)
	}
	console.summary(report)
	out.Close()
	if report.Status != "success" {
		return exitError(1)
	}
	return nil
}

// runnerOnly are exec's step hooks: a step's cache and artifacts are kept by
// runners (a runner's store, the job's API record), which exec has neither
// of, so it says so in the step's log instead of ignoring them silently.
type runnerOnly struct{}

func (runnerOnly) BeforeStep(_ context.Context, s *pipeline.Step, note func(string)) {
	if s.Cache != nil {
		note("cache " + s.Cache.Key + ": not used by narwhal exec (runners restore and save caches)")
	}
}

func (runnerOnly) AfterStep(_ context.Context, s *pipeline.Step, _ engine.StepResult, note func(string)) {
	if s.Artifacts != nil {
		note("artifacts: not uploaded by narwhal exec (runners upload them); the files stay in the workspace only")
	}
}

func parseExecFlags(args []string, stderr io.Writer) (execOptions, error) {
	o := execOptions{env: newKV(), secrets: newKV()}
	fs := flag.NewFlagSet("exec", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, execHelp) }
	fs.StringVar(&o.file, "f", "narwhal.yml", "pipeline file")
	fs.StringVar(&o.executor, "executor", "auto", "auto, docker or host")
	fs.StringVar(&o.branch, "branch", "", "branch for when filters")
	fs.StringVar(&o.event, "event", "push", "event for when filters")
	fs.StringVar(&o.ref, "ref", "", "ref for when filters")
	fs.Var(&o.env, "env", "K=V for every step")
	fs.Var(&o.secrets, "secret", "K=V secret")
	fs.BoolVar(&o.verbose, "v", false, "debug logging")
	if err := fs.Parse(args); err != nil {
		return o, flagError(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "narwhal exec: unexpected argument %q\n", fs.Arg(0))
		return o, exitError(2)
	}
	if o.branch == "" {
		o.branch = currentBranch()
	}
	if o.ref == "" {
		o.ref = "refs/heads/" + o.branch
	}
	return o, nil
}

// prepareWorkspace copies the working tree into a fresh job directory.
func prepareWorkspace(ctx context.Context, jobID string) (string, error) {
	cwd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	dir, err := workspace.NewDir(filepath.Join(os.TempDir(), "narwhal-exec"), jobID)
	if err != nil {
		return "", fmt.Errorf("create workspace: %w", err)
	}
	if err := workspace.Copy(ctx, cwd, dir); err != nil {
		workspace.Remove(dir)
		return "", fmt.Errorf("copy working tree: %w", err)
	}
	return dir, nil
}

// currentBranch reads the checked-out branch from .git/HEAD without running
// git; it returns "main" outside a repository or on a detached HEAD.
func currentBranch() string {
	head, err := os.ReadFile(filepath.Join(".git", "HEAD"))
	if ref, ok := strings.CutPrefix(strings.TrimSpace(string(head)), "ref: refs/heads/"); err == nil && ok {
		return ref
	}
	return "main"
}

func newLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// kvFlag collects repeated K=V flags.
type kvFlag struct{ m map[string]string }

func newKV() kvFlag { return kvFlag{m: map[string]string{}} }

func (f *kvFlag) String() string { return "" }

func (f *kvFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want K=V, got %q", s)
	}
	f.m[k] = v
	return nil
}
