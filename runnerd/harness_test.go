package main

import (
	"bufio"
	"context"
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

	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/runnerkey"
	"github.com/narwhal-ci/narwhal/internal/tlsgen"
)

// runnerdBin is the runnerd binary built once by TestMain.
var runnerdBin string

// Test TLS material, made once: a self-signed pair for the loopback names.
var certPEM, keyPEM []byte

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "runnerd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	_ = os.Chmod(dir, 0o755) // a runnerd run as another user must reach its binary
	runnerdBin = filepath.Join(dir, "runnerd")
	out, err := exec.Command("go", "build", "-ldflags", "-X main.version=test", "-o", runnerdBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build runnerd: %v\n%s", err, out)
		return 1
	}
	if certPEM, keyPEM, err = tlsgen.SelfSigned(nil, time.Hour); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// daemonOpts is what a test configures of a runnerd process; the rest is
// filled in by startRunnerd.
type daemonOpts struct {
	capacity  int
	executor  string // docker, host, fake
	scale     bool
	amqpURL   string
	amqpPrefx string
	logsYAML  string // the logs section; default a dir in the test's temp dir
	drain     time.Duration
	labels    []string
	env       []string
	logLevel  string  // default debug
	user      *osUser // run as this user (its work dir handed over); nil: as the test
}

// proc is a runnerd process under test.
type proc struct {
	t       testing.TB
	cmd     *exec.Cmd
	dir     string // its temp dir: config, cert, work dir
	config  string // path of its config file
	id      string // its runner ID
	token   string // its own token, derived from fleetKey
	grpc    string // address of its gRPC server
	metrics string // address of its metrics server
	client  *rpc.Client
	user    *osUser // nil: runs as the test's user

	mu     sync.Mutex
	lines  []string // its stderr, JSON lines
	exited chan struct{}
	err    error // from Wait
}

// startRunnerd writes a configuration and starts runnerd with it, waits until
// its /healthz answers, and dials a client. At the end of the test the
// process is stopped (SIGTERM, then SIGKILL) if still running.
func startRunnerd(t testing.TB, o daemonOpts) *proc {
	t.Helper()
	p := &proc{t: t, dir: t.TempDir(), exited: make(chan struct{})}
	p.id = "test-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	p.token = runnerkey.Token(fleetKey, p.id)
	p.config = filepath.Join(p.dir, "runnerd.yaml")
	writeFile(t, filepath.Join(p.dir, "runner.crt"), certPEM)
	writeFile(t, filepath.Join(p.dir, "runner.key"), keyPEM)
	writeFile(t, p.config, []byte(p.configYAML(o)))
	p.user = o.user
	if o.user != nil {
		o.user.handOver(t, p.dir)
	}
	p.start(o.env)
	p.dial()
	return p
}

func (p *proc) configYAML(o daemonOpts) string {
	var b strings.Builder
	fmt.Fprintf(&b, "id: %s\ncapacity: %d\nlisten: 127.0.0.1:0\nmetrics_listen: 127.0.0.1:0\n",
		p.id, max(o.capacity, 1))
	fmt.Fprintf(&b, "tls:\n  cert: %s/runner.crt\n  key: %s/runner.key\ntokens: [%q]\n", p.dir, p.dir, p.token)
	fmt.Fprintf(&b, "work_dir: %s/work\nheartbeat: 1h\ndrain_timeout: %s\nlog_level: %s\n", p.dir,
		or(o.drain, time.Minute), or(o.logLevel, "debug"))
	fmt.Fprintf(&b, "executor:\n  kind: %s\n  scale: %v\n  stop_grace: 1s\n", or(o.executor, "fake"), o.scale)
	if len(o.labels) > 0 {
		fmt.Fprintf(&b, "labels: [%s]\n", strings.Join(o.labels, ", "))
	}
	fmt.Fprintf(&b, "report:\n  amqp_url: %q\n  amqp_prefix: %q\n", o.amqpURL, o.amqpPrefx)
	b.WriteString(or(o.logsYAML, fmt.Sprintf("logs:\n  dir: %s/logs\n", p.dir)))
	return b.String()
}

// start runs the process and waits for its "runnerd serving" line and a
// healthy /healthz.
func (p *proc) start(env []string) {
	t := p.t
	t.Helper()
	p.cmd = exec.Command(runnerdBin, "--config", p.config)
	p.cmd.Env = append(os.Environ(), env...)
	if p.user != nil {
		p.cmd.SysProcAttr = p.user.attr()
		p.cmd.Env = append(p.cmd.Env, "HOME="+p.dir)
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.kill)
	serving := make(chan map[string]any, 1)
	go p.readLog(stderr, serving)
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	select {
	case line := <-serving:
		p.grpc, p.metrics = line["grpc_addr"].(string), line["metrics_addr"].(string)
	case <-p.exited:
		t.Fatalf("runnerd exited at start: %v\n%s", p.err, p.logText())
	case <-time.After(30 * time.Second):
		t.Fatalf("runnerd did not start:\n%s", p.logText())
	}
	p.waitHealthz(http.StatusOK)
}

// readLog collects runnerd's stderr and signals its "runnerd serving" line.
func (p *proc) readLog(r io.Reader, serving chan<- map[string]any) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		p.lines = append(p.lines, line)
		p.mu.Unlock()
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "runnerd serving" {
			serving <- m
		}
	}
}

func (p *proc) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// waitHealthz waits until /healthz answers code.
func (p *proc) waitHealthz(code int) {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + p.metrics + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == code {
				return
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("healthz never answered %d (last: %v %v)\n%s", code, resp, err, p.logText())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dial makes p.client, trusting the test certificate.
func (p *proc) dial() {
	p.t.Helper()
	c, err := rpc.Dial(context.Background(), p.grpc, rpc.ClientConfig{CAPEM: certPEM, Token: p.token,
		Retry: rpc.Retry{Attempts: 3}})
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { c.Close() })
	p.client = c
}

// signal sends sig to the process.
func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		p.t.Fatalf("runnerd still running after %v:\n%s", timeout, p.logText())
		return -1
	}
}

// kill stops a process still running at the end of the test: SIGTERM with
// a short grace, then SIGKILL. The log is printed when the test failed.
func (p *proc) kill() {
	select {
	case <-p.exited:
	default:
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(15 * time.Second):
			p.cmd.Process.Kill()
			<-p.exited
		}
	}
	if p.t.Failed() {
		p.t.Logf("runnerd log:\n%s", p.logText())
	}
}

// metric returns the value of a sample line of /metrics ("name{labels}"), or
// -1 when it is missing.
func (p *proc) metric(sample string) float64 {
	p.t.Helper()
	resp, err := http.Get("http://" + p.metrics + "/metrics")
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for line := range strings.Lines(string(body)) {
		if rest, ok := strings.CutPrefix(line, sample+" "); ok {
			var v float64
			fmt.Sscan(rest, &v)
			return v
		}
	}
	return -1
}

// fleetKey derives the token of every runnerd under test.
const fleetKey = "runnerd-test-fleet-key-0123456789"

func mustToken(t testing.TB) string {
	t.Helper()
	tok, err := tlsgen.Token()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond every 50ms until it holds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
