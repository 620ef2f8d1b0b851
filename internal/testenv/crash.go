package testenv

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Crash tests run a burst of writes in a child process, kill it with
// SIGKILL in the middle, and check that every write the child acknowledged
// is there when the parent reopens what it wrote. The child is the test
// binary itself, started again with crashChildEnv naming the work to do:
// the package's TestMain calls CrashChild first, which runs that work and
// exits instead of running the tests.
const (
	crashChildEnv = "NARWHAL_CRASH_CHILD"
	crashDirEnv   = "NARWHAL_CRASH_DIR"
)

// CrashWork is a child's burst of writes in dir: it calls ack with a line
// for each write once that write returned success, and runs until killed.
type CrashWork func(ctx context.Context, dir string, ack func(line string)) error

// CrashChild, first in a TestMain, runs the work named by the environment
// and exits when this process is a crash test's child; otherwise it returns.
func CrashChild(works map[string]CrashWork) {
	name := os.Getenv(crashChildEnv)
	if name == "" {
		return
	}
	work, ok := works[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "crash child: no work %q\n", name)
		os.Exit(2)
	}
	var mu sync.Mutex
	ack := func(line string) { // one write(2) per ack: in the pipe once it returns
		mu.Lock()
		defer mu.Unlock()
		if _, err := os.Stdout.WriteString(line + "\n"); err != nil {
			os.Exit(3)
		}
	}
	if err := work(context.Background(), os.Getenv(crashDirEnv), ack); err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// CrashAfter runs work name in a child process on dir, kills it with
// SIGKILL once it acknowledged at least n writes, and returns every
// acknowledgement the child made (those still in the pipe at the kill too).
// It fails the test when the child ends by itself or acknowledges too few
// within a minute.
func CrashAfter(t *testing.T, name, dir string, n int) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+name, crashDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start crash child: %v", err)
	}
	timer := time.AfterFunc(time.Minute, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	var acks []string
	killed := false
	for sc := bufio.NewScanner(out); sc.Scan(); {
		acks = append(acks, sc.Text())
		if len(acks) >= n && !killed {
			killed = cmd.Process.Signal(syscall.SIGKILL) == nil
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("crash child %s acknowledged %d writes and ended (%v) before the kill", name, len(acks), err)
	}
	return acks
}

// Burst runs writers goroutines, each calling write(w, 0), write(w, 1) and
// so on until a call fails, and returns the first failure: a crash child's
// burst, which runs until the process is killed.
func Burst(writers int, write func(w, i int) error) error {
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := 0; ; i++ {
				if err := write(w, i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	return <-errs
}
