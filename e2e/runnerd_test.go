// Package e2e tests narwhal end to end: webhook intake, the dispatcher, real
// RabbitMQ, and several runnerd processes over gRPC with TLS on loopback.
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/runnerkey"
	"github.com/narwhal-ci/narwhal/internal/tlsgen"
)

// runnerdBin is the runnerd binary built once by TestMain.
var runnerdBin string

// certPEM and keyPEM are the runners' TLS pair; token is their bearer token.
var certPEM, keyPEM []byte

// fleetKey derives each runnerd's own token (runnerkey.Token of its ID).
var fleetKey string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "narwhal-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	runnerdBin = filepath.Join(dir, "runnerd")
	if err := buildRunnerd(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if certPEM, keyPEM, err = tlsgen.SelfSigned(nil, time.Hour); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if fleetKey, err = tlsgen.Token(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// buildRunnerd builds runnerd from this tree into runnerdBin.
func buildRunnerd(string) error {
	if out, err := exec.Command("go", "build", "-o", runnerdBin, "../runnerd").CombinedOutput(); err != nil {
		return fmt.Errorf("build runnerd: %v\n%s", err, out)
	}
	return nil
}

// runnerOpts configures one runnerd process.
type runnerOpts struct {
	id        string
	capacity  int
	executor  string // docker, host, fake (fake runs in scale mode)
	heartbeat time.Duration
	amqpURL   string
	prefix    string
	workDir   string // work_dir, holding the log dir too; default a temp dir
}

// runnerd is a runnerd process under test.
type runnerd struct {
	t      *testing.T
	id     string
	config string // path of its configuration file
	cmd    *exec.Cmd
	grpc   string
	health string
	mu     sync.Mutex
	lines  []string
	exited chan struct{}
}

// startRunnerd writes a configuration, starts runnerd with it and waits
// until /healthz answers 200. The process is killed at the end of the test.
func startRunnerd(t *testing.T, o runnerOpts) *runnerd {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "runner.crt"), certPEM)
	writeFile(t, filepath.Join(dir, "runner.key"), keyPEM)
	kind := or(o.executor, "fake")
	work := or(o.workDir, filepath.Join(dir, "work"))
	cfg := fmt.Sprintf(`id: %s
capacity: %d
listen: %s
metrics_listen: 127.0.0.1:0
tls: {cert: %s/runner.crt, key: %s/runner.key}
tokens: [%q]
work_dir: %s
heartbeat: %s
drain_timeout: 2s
log_level: debug
executor: {kind: %s, scale: %v, stop_grace: 1s}
report: {amqp_url: %q, amqp_prefix: %q}
logs: {dir: %s/logs}
`, o.id, max(o.capacity, 1), freeAddr(t), dir, dir, runnerkey.Token(fleetKey, o.id), work, or(o.heartbeat, time.Hour), kind, kind == "fake",
		o.amqpURL, o.prefix, work)
	writeFile(t, filepath.Join(dir, "runnerd.yaml"), []byte(cfg))
	r := &runnerd{t: t, id: o.id, config: filepath.Join(dir, "runnerd.yaml")}
	if kind == "docker" {
		t.Cleanup(func() { removeContainers(t, o.id) })
	}
	t.Cleanup(r.stop)
	r.launch()
	return r
}

// launch starts the process with r's configuration and waits until /healthz
// answers 200.
func (r *runnerd) launch() {
	t := r.t
	t.Helper()
	r.exited = make(chan struct{})
	r.cmd = exec.Command(runnerdBin, "--config", r.config)
	stderr, err := r.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	serving := make(chan map[string]any, 1)
	go r.readLog(stderr, serving)
	cmd, exited := r.cmd, r.exited
	go func() { cmd.Wait(); close(exited) }()
	select {
	case line := <-serving:
		r.grpc, r.health = line["grpc_addr"].(string), line["metrics_addr"].(string)
	case <-r.exited:
		t.Fatalf("runnerd %s exited at start:\n%s", r.id, r.log())
	case <-time.After(30 * time.Second):
		t.Fatalf("runnerd %s did not start:\n%s", r.id, r.log())
	}
	eventually(t, 20*time.Second, "runnerd "+r.id+" healthy", func() bool {
		resp, err := http.Get("http://" + r.health + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// restart starts the process again, with the same ID and configuration, once
// it has exited (kill9): what systemd's Restart= does.
func (r *runnerd) restart() {
	r.t.Helper()
	<-r.exited
	r.launch()
}

func (r *runnerd) readLog(rd io.Reader, serving chan<- map[string]any) {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		r.mu.Lock()
		r.lines = append(r.lines, sc.Text())
		r.mu.Unlock()
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "runnerd serving" {
			serving <- m
		}
	}
}

func (r *runnerd) log() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

// kill9 kills the process with SIGKILL and waits for it.
func (r *runnerd) kill9() {
	r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.exited
}

// stop ends the process (SIGTERM, then SIGKILL) and prints its log when the
// test failed.
func (r *runnerd) stop() {
	select {
	case <-r.exited:
	default:
		r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.exited:
		case <-time.After(10 * time.Second):
			r.cmd.Process.Kill()
			<-r.exited
		}
	}
	if r.t.Failed() {
		r.t.Logf("runnerd %s log:\n%s", r.id, r.log())
	}
}

// removeContainers removes whatever containers runner id left behind, once
// the runner has stopped: a backstop for a failed test.
func removeContainers(t *testing.T, id string) {
	out, err := exec.Command("docker", "ps", "-aq", "--filter", "label=io.narwhal.runner="+id).Output()
	if ids := strings.Fields(string(out)); err == nil && len(ids) > 0 {
		t.Logf("removing %d containers left by runner %s", len(ids), id)
		exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
	}
}

// freeAddr returns a loopback address with a port free right now: runnerd
// advertises its listen address, so it cannot be port 0.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// eventually polls cond every 50ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ctxT is a context ended at the end of the test.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}
