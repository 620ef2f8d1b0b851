// Package sdnotify tells systemd about a service's state (sd_notify(3)) for
// units with Type=notify: ready, reloading, stopping, alive (the watchdog),
// and a free-form status line. It writes one datagram per call to the
// socket named by $NOTIFY_SOCKET, an absolute path or, starting with '@', a
// Linux abstract socket. Without $NOTIFY_SOCKET (not under systemd, or a
// unit of another type) every call does nothing and returns nil, so callers
// need no branch.
//
// runnerd calls Ready once it serves, Watchdog from WatchdogLoop, Reloading
// and Ready around a SIGHUP reload, Stopping when it starts to drain.
package sdnotify

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Notify sends state, one or more newline-separated VAR=value assignments
// (see sd_notify(3)), to $NOTIFY_SOCKET. It returns nil without a socket.
func Notify(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if strings.HasPrefix(path, "@") {
		path = "\x00" + path[1:] // abstract namespace
	} else if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("sd_notify: NOTIFY_SOCKET %q is neither a path nor an abstract socket", path)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify %q: %w", state, err)
	}
	return nil
}

// Ready tells systemd that start-up is finished (READY=1): a Type=notify
// unit counts as started from here, and after a Reloading, as reloaded.
func Ready() error { return Notify("READY=1") }

// Stopping tells systemd that the service is shutting down (STOPPING=1).
func Stopping() error { return Notify("STOPPING=1") }

// Reloading tells systemd that the service reloads its configuration; call
// Ready when done. MONOTONIC_USEC is included, as Type=notify-reload units
// require.
func Reloading() error {
	return Notify("RELOADING=1\nMONOTONIC_USEC=" + strconv.FormatInt(monotonicUsec(), 10))
}

// Watchdog tells systemd that the service is alive (WATCHDOG=1). With
// WatchdogSec= set, systemd kills a service that stays silent longer.
func Watchdog() error { return Notify("WATCHDOG=1") }

// Status sets the one-line status `systemctl status` shows (STATUS=...).
func Status(s string) error { return Notify("STATUS=" + strings.ReplaceAll(s, "\n", " ")) }

// WatchdogInterval returns the watchdog timeout systemd expects pings
// within ($WATCHDOG_USEC) and whether it applies to this process (a
// $WATCHDOG_PID, when set, must be ours). Ping at half of it.
func WatchdogInterval() (time.Duration, bool) {
	usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || usec <= 0 {
		return 0, false
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0, false
	}
	return time.Duration(usec) * time.Microsecond, true
}

// WatchdogLoop pings the watchdog at half its interval until ctx ends,
// skipping a ping while healthy (if not nil) returns false, so that systemd
// restarts a service that is wedged rather than merely alive. Without a
// watchdog it returns at once. Run it in its own goroutine.
func WatchdogLoop(ctx context.Context, healthy func() bool) error {
	interval, ok := WatchdogInterval()
	if !ok {
		return nil
	}
	tick := time.NewTicker(interval / 2)
	defer tick.Stop()
	for {
		if healthy == nil || healthy() {
			if err := Watchdog(); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, the clock systemd
// compares MONOTONIC_USEC with.
func monotonicUsec() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano() / 1e3
}
