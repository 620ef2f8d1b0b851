// Command narwhal is narwhal's command line: run a pipeline locally, validate
// narwhal.yml, send webhooks, and talk to the REST API (NARWHAL_API,
// NARWHAL_TOKEN).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand. run gets the arguments after the command name.
type command struct {
	name  string
	usage string // one line, for `narwhal --help`
	run   func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"dev", "run the whole system in one process: webhook, API, dashboard, dispatcher, runners", runDev},
		{"exec", "run the narwhal.yml of the working tree locally, in containers", runExec},
		{"validate", "check a narwhal.yml and print file:line:column errors", runValidate},
		{"trigger", "send a signed, GitHub-shaped webhook for a local repository", runTrigger},
		{"jobs", "list jobs (filters: repo, status, branch)", runJobs},
		{"job", "show one job and its steps", runJob},
		{"logs", "print or follow (-f) a job's log", runLogs},
		{"artifacts", "list a job's artifacts, or download them (--download DIR)", runArtifacts},
		{"resubmit", "run a job's commit again as a new job", runResubmit},
		{"cancel", "cancel a job", runCancel},
		{"runners", "list runners with load, capacity and state", runRunners},
		{"drain", "drain a runner: no new jobs, running ones finish", runDrain},
		{"secret", "set, list or remove a repository's secrets (set reads the value from stdin)", runSecret},
		{"registry", "add, list or remove a repository's registry credentials", runRegistry},
		{"runner-cert", "make a runner's TLS pair and its own token (from the fleet key)", runRunnerCert},
		{"version", "print the version", runVersion},
	}
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile := startProfile()
	err := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stopProfile()
	stop()
	var exit exitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		os.Exit(int(exit))
	default:
		fmt.Fprintln(os.Stderr, "narwhal:", err)
		os.Exit(1)
	}
}

// exitError ends the program with its code and no further message (the
// command has already said what went wrong).
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return nil
	}
	if args[0] == "--version" || args[0] == "-v" {
		return runVersion(ctx, args[1:], stdout, stderr)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	usage(stderr)
	return fmt.Errorf("unknown command %q", args[0])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "narwhal: a small continuous integration system\n\nUsage: narwhal <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.usage)
	}
	fmt.Fprintln(w, "\nRun `narwhal <command> -h` for the flags and examples of a command; `narwhal --version` prints the version.")
}

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) error {
	_, err := fmt.Fprintln(stdout, "narwhal", version)
	return err
}
