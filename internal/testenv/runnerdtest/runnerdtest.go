// Package runnerdtest runs runnerd as its own process for tests: the one
// harness of runnerd's own tests and of the end-to-end tests. Build makes
// the binary once per test binary (from TestMain); Start launches it with a
// configuration the test wrote, waits until it serves and is healthy, and
// stops it at the end of the test. Tests keep their own configurations.
package runnerdtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/tlsgen"
)

// Build builds the runnerd package at pkg (a path such as "." or
// "../runnerd") with version "test" into a new directory that other users can
// read (a test may run runnerd as another user). cleanup removes it.
func Build(pkg string) (bin string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "runnerd-test-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	_ = os.Chmod(dir, 0o755)
	bin = filepath.Join(dir, "runnerd")
	out, err := exec.Command("go", "build", "-ldflags", "-X main.version=test", "-o", bin, pkg).CombinedOutput()
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("build runnerd: %v\n%s", err, out)
	}
	return bin, cleanup, nil
}

// Kit is what the runnerd tests of one test binary share: the binary and a
// self-signed TLS pair for the loopback names.
type Kit struct {
	Bin             string
	CertPEM, KeyPEM []byte
}

// Main builds the Kit of the runnerd package at pkg, hands it to setup, runs
// the tests and cleans up: the whole TestMain of a package that runs
// runnerd (os.Exit(runnerdtest.Main(m, "../runnerd", func(k Kit) { kit = k }))).
func Main(m *testing.M, pkg string, setup func(Kit)) int {
	bin, cleanup, err := Build(pkg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cleanup()
	k := Kit{Bin: bin}
	if k.CertPEM, k.KeyPEM, err = tlsgen.SelfSigned(nil, time.Hour); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	setup(k)
	return m.Run()
}

// Options are how a process is started beyond its configuration.
type Options struct {
	Env         []string             // added to the test's environment
	SysProcAttr *syscall.SysProcAttr // e.g. to run as another user
}

// Proc is a runnerd process under test. Its exported fields are set by
// Launch.
type Proc struct {
	t      testing.TB
	bin    string
	config string
	opts   Options

	Cmd     *exec.Cmd
	GRPC    string // address of its gRPC server, from its "runnerd serving" line
	Metrics string // address of its metrics (and /healthz) server
	Err     error  // what Wait returned, once it exited

	mu     sync.Mutex
	lines  []string // its stderr, JSON lines, across launches
	exited chan struct{}
}

// Start launches runnerd with the configuration file config and stops it at
// the end of the test (see Stop).
func Start(t testing.TB, bin, config string, o Options) *Proc {
	t.Helper()
	p := &Proc{t: t, bin: bin, config: config, opts: o}
	t.Cleanup(p.Stop)
	p.Launch()
	return p
}

// Launch starts the process and waits for its "runnerd serving" line and a
// healthy /healthz; the test fails when it exits or takes longer than 30 s.
func (p *Proc) Launch() {
	t := p.t
	t.Helper()
	p.exited = make(chan struct{})
	p.Cmd = exec.Command(p.bin, "--config", p.config)
	p.Cmd.Env = append(os.Environ(), p.opts.Env...)
	p.Cmd.SysProcAttr = p.opts.SysProcAttr
	stderr, err := p.Cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	serving := make(chan map[string]any, 1)
	go p.readLog(stderr, serving)
	cmd, exited := p.Cmd, p.exited
	go func() { p.Err = cmd.Wait(); close(exited) }()
	select {
	case line := <-serving:
		p.GRPC, p.Metrics = line["grpc_addr"].(string), line["metrics_addr"].(string)
	case <-exited:
		t.Fatalf("runnerd exited at start: %v\n%s", p.Err, p.Log())
	case <-time.After(30 * time.Second):
		t.Fatalf("runnerd did not start:\n%s", p.Log())
	}
	p.WaitHealthz(http.StatusOK)
}

// Restart launches the process again with the same configuration once it has
// exited (after Kill9): what systemd's Restart= does.
func (p *Proc) Restart() {
	p.t.Helper()
	<-p.exited
	p.Launch()
}

// readLog collects stderr and signals the "runnerd serving" line.
func (p *Proc) readLog(r io.Reader, serving chan<- map[string]any) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		p.mu.Lock()
		p.lines = append(p.lines, sc.Text())
		p.mu.Unlock()
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "runnerd serving" {
			serving <- m
		}
	}
}

// Lines returns the log lines so far.
func (p *Proc) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// Log returns the log so far as one text.
func (p *Proc) Log() string { return strings.Join(p.Lines(), "\n") }

// Exited is closed when the current launch has exited.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// WaitHealthz waits up to 20 s until /healthz answers code.
func (p *Proc) WaitHealthz(code int) {
	p.t.Helper()
	var last string
	ok := eventually(20*time.Second, func() bool {
		resp, err := http.Get("http://" + p.Metrics + "/healthz")
		if err != nil {
			last = err.Error()
			return false
		}
		resp.Body.Close()
		last = resp.Status
		return resp.StatusCode == code
	})
	if !ok {
		p.t.Fatalf("healthz never answered %d (last: %s)\n%s", code, last, p.Log())
	}
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// Kill9 kills the process with SIGKILL and waits for it.
func (p *Proc) Kill9() {
	p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Wait waits for the process to exit and returns its exit code.
func (p *Proc) Wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
		return p.Cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		p.t.Fatalf("runnerd still running after %v:\n%s", timeout, p.Log())
		return -1
	}
}

// Stop ends a process still running (SIGTERM, SIGKILL after 15 s) and logs
// its output when the test failed. Start registers it as a cleanup.
func (p *Proc) Stop() {
	if p.exited == nil {
		return
	}
	select {
	case <-p.exited:
	default:
		p.Cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(15 * time.Second):
			p.Cmd.Process.Kill()
			<-p.exited
		}
	}
	if p.t.Failed() {
		p.t.Logf("runnerd log:\n%s", p.Log())
	}
}

// Eventually polls cond every 50 ms until it holds, failing the test after
// timeout.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !eventually(timeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

func eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}
