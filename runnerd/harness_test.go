package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/runnerkey"
	"github.com/narwhal-ci/narwhal/internal/testenv/runnerdtest"
	"github.com/narwhal-ci/narwhal/internal/tlsgen"
)

// runnerdBin is the runnerd binary built once by TestMain.
var runnerdBin string

// Test TLS material, made once: a self-signed pair for the loopback names.
var certPEM, keyPEM []byte

func TestMain(m *testing.M) {
	os.Exit(runnerdtest.Main(m, ".", func(k runnerdtest.Kit) { runnerdBin, certPEM, keyPEM = k.Bin, k.CertPEM, k.KeyPEM }))
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

// proc is a runnerd process under test (runnerdtest.Proc) with what this
// package's tests know of it.
type proc struct {
	*runnerdtest.Proc
	t      testing.TB
	dir    string // its temp dir: config, cert, work dir
	config string // path of its config file
	id     string // its runner ID
	token  string // its own token, derived from fleetKey
	client *rpc.Client
	user   *osUser // nil: runs as the test's user
}

// startRunnerd writes a configuration and starts runnerd with it, waits until
// its /healthz answers, and dials a client. At the end of the test the
// process is stopped (SIGTERM, then SIGKILL) if still running.
func startRunnerd(t testing.TB, o daemonOpts) *proc {
	t.Helper()
	p := &proc{t: t, dir: t.TempDir()}
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
	opts := runnerdtest.Options{Env: o.env}
	if o.user != nil {
		opts.SysProcAttr = o.user.attr()
		opts.Env = append(opts.Env, "HOME="+p.dir)
	}
	p.Proc = runnerdtest.Start(t, runnerdBin, p.config, opts)
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

// dial makes p.client, trusting the test certificate.
func (p *proc) dial() {
	p.t.Helper()
	c, err := rpc.Dial(context.Background(), p.GRPC, rpc.ClientConfig{CAPEM: certPEM, Token: p.token,
		Retry: rpc.Retry{Attempts: 3}})
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { c.Close() })
	p.client = c
}

// metric returns the value of a sample line of /metrics ("name{labels}"), or
// -1 when it is missing.
func (p *proc) metric(sample string) float64 {
	p.t.Helper()
	resp, err := http.Get("http://" + p.Metrics + "/metrics")
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
	runnerdtest.Eventually(t, timeout, what, cond)
}
