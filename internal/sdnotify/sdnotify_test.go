package sdnotify

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// listen binds a unixgram socket at name (a path, or "@name" for the
// abstract namespace), points NOTIFY_SOCKET at it and returns a function
// that reads the next datagram.
func listen(t *testing.T, name string) func() string {
	t.Helper()
	read := listenPoll(t, name)
	return func() string {
		t.Helper()
		msg, ok := read(2 * time.Second)
		if !ok {
			t.Fatal("no notification")
		}
		return msg
	}
}

// listenPoll is listen with a reader that waits up to a timeout and says
// whether a datagram came.
func listenPoll(t *testing.T, name string) func(time.Duration) (string, bool) {
	t.Helper()
	addr := name
	if strings.HasPrefix(name, "@") {
		addr = "\x00" + name[1:]
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", name)
	return func(timeout time.Duration) (string, bool) {
		conn.SetReadDeadline(time.Now().Add(timeout))
		buf := make([]byte, 4096)
		n, err := conn.Read(buf)
		if err != nil {
			return "", false
		}
		return string(buf[:n]), true
	}
}

func TestNotifyPathSocket(t *testing.T) {
	next := listen(t, filepath.Join(t.TempDir(), "notify.sock"))
	steps := []struct {
		send func() error
		want string
	}{
		{Ready, "READY=1"},
		{Watchdog, "WATCHDOG=1"},
		{Stopping, "STOPPING=1"},
		{func() error { return Status("2/4 slots busy\nx") }, "STATUS=2/4 slots busy x"},
	}
	for _, s := range steps {
		if err := s.send(); err != nil {
			t.Fatal(err)
		}
		if got := next(); got != s.want {
			t.Errorf("got %q, want %q", got, s.want)
		}
	}
	before := monotonicUsec()
	if err := Reloading(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(next(), "\n")
	usec, err := strconv.ParseInt(strings.TrimPrefix(lines[len(lines)-1], "MONOTONIC_USEC="), 10, 64)
	if lines[0] != "RELOADING=1" || err != nil || usec < before || usec > before+int64(time.Minute/time.Microsecond) {
		t.Errorf("reloading: %q (before %d)", lines, before)
	}
}

func TestNotifyAbstractSocket(t *testing.T) {
	next := listen(t, fmt.Sprintf("@narwhal-sdnotify-test-%d", os.Getpid()))
	if err := Ready(); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "READY=1" {
		t.Fatalf("got %q", got)
	}
}

func TestNotifyWithoutSocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if err := Ready(); err != nil {
		t.Fatalf("without NOTIFY_SOCKET: %v", err)
	}
	t.Setenv("NOTIFY_SOCKET", "relative.sock")
	if err := Ready(); err == nil {
		t.Fatal("a relative socket path was accepted")
	}
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "nobody-listens"))
	if err := Ready(); err == nil {
		t.Fatal("a missing socket was no error")
	}
}

func TestWatchdogInterval(t *testing.T) {
	pid := strconv.Itoa(os.Getpid())
	cases := []struct {
		usec, pid string
		want      time.Duration
		ok        bool
	}{
		{"30000000", "", 30 * time.Second, true},
		{"30000000", pid, 30 * time.Second, true},
		{"30000000", "1", 0, false}, // another process's watchdog
		{"", "", 0, false},
		{"0", "", 0, false},
		{"soon", "", 0, false},
	}
	for _, c := range cases {
		t.Setenv("WATCHDOG_USEC", c.usec)
		t.Setenv("WATCHDOG_PID", c.pid)
		if got, ok := WatchdogInterval(); got != c.want || ok != c.ok {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: %v %v, want %v %v", c.usec, c.pid, got, ok, c.want, c.ok)
		}
	}
}

func TestWatchdogLoop(t *testing.T) {
	read := listenPoll(t, filepath.Join(t.TempDir(), "notify.sock"))
	t.Setenv("WATCHDOG_USEC", "100000") // 100ms: a ping every 50ms
	t.Setenv("WATCHDOG_PID", "")
	ctx, cancel := context.WithCancel(context.Background())
	var wedged atomic.Bool
	done := make(chan error, 1)
	go func() { done <- WatchdogLoop(ctx, func() bool { return !wedged.Load() }) }()
	start := time.Now()
	for range 3 {
		if got, ok := read(time.Second); got != "WATCHDOG=1" {
			t.Fatalf("got %q %v", got, ok)
		}
	}
	if took := time.Since(start); took < 90*time.Millisecond {
		t.Errorf("3 pings in %v: faster than half the interval", took)
	}
	wedged.Store(true)
	read(60 * time.Millisecond) // a ping already under way
	if got, ok := read(200 * time.Millisecond); ok {
		t.Errorf("pinged %q while unhealthy", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Setenv("WATCHDOG_USEC", "")
	if err := WatchdogLoop(context.Background(), nil); err != nil {
		t.Fatalf("without a watchdog: %v", err)
	}
}
