// Package e2e tests narwhal end to end: webhook intake, the dispatcher, real
// RabbitMQ, and several runnerd processes over gRPC with TLS on loopback.
package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/runnerkey"
	"github.com/narwhal-ci/narwhal/internal/testenv/runnerdtest"
	"github.com/narwhal-ci/narwhal/internal/tlsgen"
)

// runnerdBin is the runnerd binary built once by TestMain.
var runnerdBin string

// certPEM and keyPEM are the runners' TLS pair; token is their bearer token.
var certPEM, keyPEM []byte

// fleetKey derives each runnerd's own token (runnerkey.Token of its ID).
var fleetKey string

func TestMain(m *testing.M) {
	key, err := tlsgen.Token()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fleetKey = key
	os.Exit(runnerdtest.Main(m, "../runnerd", func(k runnerdtest.Kit) { runnerdBin, certPEM, keyPEM = k.Bin, k.CertPEM, k.KeyPEM }))
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
	gitCA     string // git_ca_file; default none
}

// runnerd is a runnerd process under test (runnerdtest.Proc) and its ID.
type runnerd struct {
	*runnerdtest.Proc
	id string
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
git_ca_file: %q
`, o.id, max(o.capacity, 1), freeAddr(t), dir, dir, runnerkey.Token(fleetKey, o.id), work, or(o.heartbeat, time.Hour), kind, kind == "fake",
		o.amqpURL, o.prefix, work, o.gitCA)
	writeFile(t, filepath.Join(dir, "runnerd.yaml"), []byte(cfg))
	if kind == "docker" {
		t.Cleanup(func() { removeContainers(t, o.id) })
	}
	return &runnerd{Proc: runnerdtest.Start(t, runnerdBin, filepath.Join(dir, "runnerd.yaml"), runnerdtest.Options{}), id: o.id}
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
	runnerdtest.Eventually(t, timeout, what, cond)
}

// ctxT is a context ended at the end of the test.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}
