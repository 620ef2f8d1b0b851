// Package testenv tells tests where the real services of the test stack are
// (see scripts/teststack.sh). Outside CI a test whose service is missing is
// skipped with a message saying what to start; with CI=true it fails, because a
// skipped test in CI is a test that did not run.
package testenv

import (
	"context"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/flock"
)

// InCI reports whether the tests run in CI (CI=true), where nothing may be skipped.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips the test outside CI and fails it in CI. what names the service,
// and the message says how to start it.
func Missing(t testing.TB, what string) {
	t.Helper()
	msg := what + " is not available; start the test stack with `scripts/teststack.sh up` " +
		"and `eval $(scripts/teststack.sh env)`, or run `make test`"
	if InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Image returns the name of the local test image (busybox, built without a
// registry). It does not check that Docker answers; the Docker tests do that.
func Image(t testing.TB) string {
	t.Helper()
	img := os.Getenv("NARWHAL_TEST_IMAGE")
	if img == "" {
		Missing(t, "the test image (NARWHAL_TEST_IMAGE)")
	}
	return img
}

// AMQPURL returns the URL of the test RabbitMQ node after checking that it
// accepts TCP connections.
func AMQPURL(t testing.TB) string {
	t.Helper()
	return reachable(t, "RabbitMQ (NARWHAL_TEST_AMQP_URL)", os.Getenv("NARWHAL_TEST_AMQP_URL"))
}

// AWSEndpoint returns the moto_server endpoint and points the AWS SDK at it for
// the rest of the test through the standard variables, so that production code
// needs no test branch.
func AWSEndpoint(t testing.TB) string {
	t.Helper()
	ep := reachable(t, "moto_server (NARWHAL_TEST_AWS_ENDPOINT)", os.Getenv("NARWHAL_TEST_AWS_ENDPOINT"))
	t.Setenv("AWS_ENDPOINT_URL", ep)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	return ep
}

// RestartableAMQPURL returns the URL of the second test RabbitMQ node, the one
// StopRabbitMQ and StartRabbitMQ act on, after taking an exclusive lock on it
// that lasts until the test ends. `go test ./...` runs packages in parallel
// processes: the lock keeps two restart tests from interleaving, and the
// separate node keeps a restart from disturbing every other RabbitMQ test.
func RestartableAMQPURL(t testing.TB) string {
	t.Helper()
	if os.Getenv("NARWHAL_TEST_AMQP_RESTART_URL") == "" {
		Missing(t, "the restartable RabbitMQ node (NARWHAL_TEST_AMQP_RESTART_URL)")
	}
	unlock, err := flock.Lock(filepath.Join(os.TempDir(), "narwhal-test-restart-broker.lock"), flock.Exclusive)
	if err != nil {
		t.Fatalf("restart broker: %v", err)
	}
	t.Cleanup(unlock)
	// Check only under the lock: another package's restart test may have had
	// the node down while we waited.
	return reachable(t, "the restartable RabbitMQ node (NARWHAL_TEST_AMQP_RESTART_URL)", os.Getenv("NARWHAL_TEST_AMQP_RESTART_URL"))
}

// StopRabbitMQ stops the restartable test RabbitMQ node (see
// RestartableAMQPURL, whose lock the test must hold); StartRabbitMQ starts it
// again and waits until it accepts connections. Tests use them to show that a
// broker restart loses nothing.
func StopRabbitMQ(t testing.TB) { t.Helper(); stackCtl(t, "rabbitmq-stop") }

// StartRabbitMQ starts the restartable RabbitMQ node stopped by StopRabbitMQ.
func StartRabbitMQ(t testing.TB) { t.Helper(); stackCtl(t, "rabbitmq-start") }

func stackCtl(t testing.TB, verb string) {
	t.Helper()
	script := os.Getenv("NARWHAL_TEST_RABBITMQ_CTL")
	if script == "" {
		Missing(t, "the test stack control script (NARWHAL_TEST_RABBITMQ_CTL)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, script, verb).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", script, verb, err, out)
	}
}

func reachable(t testing.TB, what, raw string) string {
	t.Helper()
	if raw == "" {
		Missing(t, what)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%s: bad URL %q: %v", what, raw, err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		Missing(t, what+" at "+u.Host)
	}
	conn.Close()
	return raw
}
