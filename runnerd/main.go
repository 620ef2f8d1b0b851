// Command runnerd is narwhal's runner daemon: it serves the runner RPC
// contract (internal/rpc) over TLS with bearer tokens, runs accepted jobs in
// its slots (internal/runner), ships their logs, and reports their state
// through a durable outbox to the broker. docs/runnerd.md describes its
// configuration, signals, metrics and reports.
//
//	runnerd --config /etc/narwhal/runnerd.yaml
//	runnerd --version
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/narwhal-ci/narwhal/internal/sdnotify"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// run is runnerd with its arguments, output and environment; it returns the
// exit code: 0 after a clean shutdown, 1 when runnerd cannot start or fails,
// 2 for bad usage.
func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("runnerd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "the YAML configuration `file` (environment variables override it)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, "runnerd", version)
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "runnerd: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := loadConfig(*path, getenv)
	if err != nil {
		fmt.Fprintln(stderr, "runnerd:", err)
		return 1
	}
	log := newLogger(stderr, cfg)
	if err := serve(cfg, *path, getenv, log); err != nil {
		log.Error("runnerd failed", "err", err)
		return 1
	}
	return 0
}

// serve builds the daemon, runs it until SIGTERM or SIGINT, and shuts it
// down; SIGHUP reloads labels and capacity from the configuration.
func serve(cfg *Config, path string, getenv func(string) string, log *slog.Logger) error {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	ctx := context.Background()
	d, err := build(ctx, cfg, log)
	if err != nil {
		return err
	}
	failed, err := d.start(ctx)
	if err != nil {
		d.release()
		return err
	}
	// systemd (Type=notify): ready once serving; the watchdog keeps pinging
	// through a drain, which may outlast WatchdogSec.
	notify(log, "ready", sdnotify.Ready)
	watchdog, stopWatchdog := context.WithCancel(ctx)
	defer stopWatchdog()
	go sdnotify.WatchdogLoop(watchdog, nil)
	for {
		select {
		case err := <-failed:
			notify(log, "stopping", sdnotify.Stopping)
			d.stop(sigs)
			return err
		case s := <-sigs:
			if s == syscall.SIGHUP {
				notify(log, "reloading", sdnotify.Reloading)
				d.reload(path, getenv)
				notify(log, "ready", sdnotify.Ready)
				continue
			}
			log.Info("shutting down", "signal", s.String())
			notify(log, "stopping", sdnotify.Stopping)
			d.stop(sigs)
			return nil
		}
	}
}

// notify sends one state to systemd; a failure is only worth a debug line
// (outside systemd every call is a no-op).
func notify(log *slog.Logger, state string, send func() error) {
	if err := send(); err != nil {
		log.Debug("sd_notify", "state", state, "err", err)
	}
}

// newLogger is the JSON logger to stderr, with runner_id attached once.
func newLogger(w io.Writer, cfg *Config) *slog.Logger {
	level := slog.LevelInfo
	switch strings.ToLower(cfg.LogLevel) {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	return slog.New(h).With("runner_id", cfg.ID)
}
