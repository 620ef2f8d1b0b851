package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	units "github.com/docker/go-units"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/devstack"
)

const devHelp = `Usage: narwhal dev [flags]

Runs the whole of narwhal in one process: the webhook agent (the same handler Lambda runs, behind
an API Gateway translation), the REST API under /api, the dashboard at /, Prometheus metrics at
/metrics, the dispatcher, and N runners behind real gRPC servers with TLS on loopback. State lives
under --dir: the SQLite store, job logs, the webhook secret and the API token. Ctrl-C cancels the
running jobs, removes their containers and stops. docs/dev.md has the details.

Flags:
  --addr ADDR          HTTP listen address (default :8080)
  --runners N          runner instances (default 2)
  --capacity N         job slots per runner (default 2)
  --executor KIND      auto (Docker when a daemon answers, else host), docker or host
  --amqp URL           use RabbitMQ at URL instead of the in-memory queue
  --aws-endpoint URL   keep jobs in DynamoDB at URL (moto, LocalStack) instead of SQLite
  --dir DIR            state directory (default .narwhal)
  --github-token-file FILE
                       clone private repositories with the GitHub token in FILE
  --github-app-id ID, --github-app-key-file FILE
                       or as a GitHub App: each job gets an installation token for its
                       repository (docs/secrets.md); --github-app-installation ID to pin one
  --github-url URL     API root of GitHub Enterprise Server (default github.com)
  --git-ca-file FILE   certificates git trusts for https clones instead of the system's
  --webhook-secret-file FILE
                       also accept the webhook secrets in FILE, one a line (repeatable; for a
                       rotation: the state directory's webhook-secret signs, FILE keeps the old)
  --cache-max-bytes SIZE
                       room for each repository's caches (narwhal.yml cache:) under --dir before
                       the least recently used are evicted: bytes or 512m, 10g (default 2g)
  --cancel-superseded-pushes
                       a new push cancels the older unfinished jobs of its branch (pull
                       requests do so by default; narwhal.yml's cancel_superseded overrides)
  --demo               push examples/hello through the whole system, print its progress, and
                       exit 0 when the job succeeds (what ` + "`make run`" + ` does)
  -v                   log what narwhal does (info; the API logs every request)

Examples:
  narwhal dev
  narwhal dev --demo
  narwhal dev --addr 127.0.0.1:9000 --runners 4 --amqp amqp://guest:guest@localhost:5672/
`

// devOptions are the parsed flags of `narwhal dev`.
type devOptions struct {
	cfg     devstack.Config
	demo    bool
	verbose bool
}

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, run, err := parseDev(args, stderr)
	if !run {
		return err
	}
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelInfo
	}
	o.cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	o.cfg.Version = version
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	s, err := devstack.Start(ctx, o.cfg)
	if err != nil {
		return fmt.Errorf("narwhal dev: %w", err)
	}
	printBanner(stdout, s)
	if !o.demo {
		<-ctx.Done()
		fmt.Fprintln(stdout, "stopping: cancelling running jobs…")
		return s.Wait()
	}
	demoErr := runDemo(ctx, s, stdout)
	stop()
	return errors.Join(demoErr, s.Wait())
}

// parseDev parses the flags; run is false when there is nothing to start
// (-h, or a usage error, which err then carries).
func parseDev(args []string, stderr io.Writer) (o devOptions, run bool, err error) {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, devHelp) }
	fs.StringVar(&o.cfg.Addr, "addr", ":8080", "")
	fs.IntVar(&o.cfg.Runners, "runners", 2, "")
	fs.IntVar(&o.cfg.Capacity, "capacity", 2, "")
	fs.StringVar(&o.cfg.Executor, "executor", devstack.ExecAuto, "")
	fs.StringVar(&o.cfg.AMQPURL, "amqp", "", "")
	fs.StringVar(&o.cfg.AWSEndpoint, "aws-endpoint", "", "")
	fs.StringVar(&o.cfg.Dir, "dir", ".narwhal", "")
	fs.StringVar(&o.cfg.GitHub.TokenFile, "github-token-file", "", "")
	fs.Int64Var(&o.cfg.GitHub.AppID, "github-app-id", 0, "")
	fs.StringVar(&o.cfg.GitHub.AppKeyFile, "github-app-key-file", "", "")
	fs.Int64Var(&o.cfg.GitHub.InstallationID, "github-app-installation", 0, "")
	fs.StringVar(&o.cfg.GitHub.URL, "github-url", "", "")
	fs.StringVar(&o.cfg.GitCAFile, "git-ca-file", "", "")
	fs.Func("webhook-secret-file", "", func(v string) error {
		o.cfg.WebhookSecretFiles = append(o.cfg.WebhookSecretFiles, v)
		return nil
	})
	fs.Func("cache-max-bytes", "", func(v string) error { return parseCacheMax(v, &o.cfg.CacheMaxBytes) })
	fs.BoolVar(&o.cfg.CancelSupersededPushes, "cancel-superseded-pushes", false, "")
	fs.BoolVar(&o.demo, "demo", false, "")
	fs.BoolVar(&o.verbose, "v", false, "")
	if err := fs.Parse(args); err != nil {
		return o, false, flagError(err)
	}
	problem := ""
	switch {
	case fs.NArg() > 0:
		problem = fmt.Sprintf("unexpected argument %q", fs.Arg(0))
	case o.cfg.Runners < 1 || o.cfg.Capacity < 1:
		problem = "--runners and --capacity must be at least 1"
	case o.cfg.Executor != devstack.ExecAuto && o.cfg.Executor != devstack.ExecDocker && o.cfg.Executor != devstack.ExecHost:
		problem = fmt.Sprintf("--executor %q: want auto, docker or host", o.cfg.Executor)
	case o.cfg.Dir == "":
		problem = "--dir must not be empty"
	case o.cfg.GitHub.TokenFile != "" && o.cfg.GitHub.AppID != 0:
		problem = "give --github-token-file or --github-app-id, not both"
	case (o.cfg.GitHub.AppID != 0) != (o.cfg.GitHub.AppKeyFile != ""):
		problem = "--github-app-id and --github-app-key-file go together"
	}
	if problem != "" {
		fmt.Fprintf(stderr, "narwhal dev: %s\n\n%s", problem, devHelp)
		return o, false, exitError(2)
	}
	return o, true, nil
}

// parseCacheMax reads --cache-max-bytes: a size above zero, in bytes or
// with a binary suffix (k, m, g, t; "MiB", "GB" alike).
func parseCacheMax(v string, dst *int64) error {
	n, err := units.RAMInBytes(v)
	if err != nil || n <= 0 {
		return fmt.Errorf("want a size above zero like 512m or 10g, not %q", v)
	}
	*dst = n
	return nil
}

// printBanner says where everything is.
func printBanner(w io.Writer, s *devstack.Stack) {
	in := s.Info()
	fmt.Fprintf(w, "narwhal dev (version %s): the whole system in one process; Ctrl-C stops it\n\n", version)
	rows := [][2]string{
		{"listening", in.Listen},
		{"dashboard", in.URL},
		{"webhook", in.WebhookURL},
		{"secret", s.WebhookSecret() + "   (" + filepath.Join(in.Dir, "webhook-secret") + ")"},
		{"API", in.APIURL + "   token " + s.APIToken() + "   (" + filepath.Join(in.Dir, "api-token") + ")"},
		{"metrics", in.MetricsURL},
		{"store", in.Store},
		{"queue", in.Queue},
		{"executor", in.Executor},
		{"github", in.GitHub},
		{"runners", strings.Join(in.Runners, ", ")},
	}
	for _, r := range rows {
		fmt.Fprintf(w, "  %-10s %s\n", r[0], r[1])
	}
	if in.ExecutorNote != "" {
		fmt.Fprintf(w, "\nwarning: %s\n", in.ExecutorNote)
	}
	fmt.Fprintf(w, "\nSend a push for a local repository, then follow its job (the CLI is ./bin/narwhal):\n"+
		"  narwhal trigger --repo . --url %s --secret %s\n"+
		"  export NARWHAL_API=%s NARWHAL_TOKEN=%s\n  narwhal logs -f JOB\n\n",
		in.WebhookURL, s.WebhookSecret(), in.APIURL, s.APIToken())
}

// runDemo pushes examples/hello through the stack and follows its job; it
// fails (exit status 1) unless the job succeeds.
func runDemo(ctx context.Context, s *devstack.Stack, stdout io.Writer) error {
	src, err := exampleDir(ctx)
	if err != nil {
		return err
	}
	host := s.Info().Executor == devstack.ExecHost
	if host {
		fmt.Fprintln(stdout, "warning: the host executor cannot run services: the demo runs a copy of examples/hello without its service")
	}
	commit, err := devstack.DemoRepo(ctx, s.Info().Dir, src, host)
	if err != nil {
		return err
	}
	id, err := s.Trigger(ctx, commit)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "demo: pushed %s of %s; job %s (dashboard: %s#/jobs/%s)\n", commit.SHA[:10], src, id, s.Info().URL, id)
	c, err := s.Client()
	if err != nil {
		return err
	}
	j, err := followJob(ctx, c, id, pipelineSteps(src), stdout)
	if err != nil {
		return fmt.Errorf("follow job %s: %w", id, err)
	}
	if j.Status != ci.StatusSuccess {
		fmt.Fprintf(stdout, "demo: job %s ended %s\n", id, j.Status)
		return exitError(1)
	}
	fmt.Fprintln(stdout, "demo: success")
	return nil
}

// exampleDir finds examples/hello in the repository the working directory
// is in.
func exampleDir(ctx context.Context) (string, error) {
	top, err := gitDir{ctx: ctx, dir: "."}.run("rev-parse", "--show-toplevel")
	if err != nil {
		return "", fmt.Errorf("--demo runs examples/hello of the narwhal repository; run it inside a checkout: %w", err)
	}
	return filepath.Join(top, "examples", "hello"), nil
}
