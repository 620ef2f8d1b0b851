package devstack

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor/docker"
	"github.com/narwhal-ci/narwhal/internal/executor/fake"
	"github.com/narwhal-ci/narwhal/internal/testenv"
	"github.com/narwhal-ci/narwhal/internal/tlsgen"
)

// uniqueName is a short random name, to keep tests' runners, queues and
// tables apart.
func uniqueName(t *testing.T, prefix string) string {
	tok, err := tlsgen.Token()
	if err != nil {
		t.Fatal(err)
	}
	return prefix + strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(tok))[:8]
}

// TestDockerExecutor runs a job with a service in real containers, then
// shuts down with a second job still running: it ends cancelled and no
// container, network or volume of the stack's runners is left.
func TestDockerExecutor(t *testing.T) {
	t.Parallel()
	image := testenv.Image(t)
	cfg := testConfig(t)
	cfg.Executor, cfg.RunnerName, cfg.Runners = ExecDocker, uniqueName(t, "t"), 1
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := Start(ctx, cfg)
	if err != nil {
		testenv.Missing(t, "Docker ("+err.Error()+")")
	}
	if s.Info().Executor != ExecDocker {
		t.Fatalf("executor %s", s.Info().Executor)
	}
	ok := newRepo(t, map[string]string{"narwhal.yml": fmt.Sprintf(`name: docker
image: %[1]s
services:
  - name: web
    image: %[1]s
    command: [sh, -c, "mkdir -p /www && echo pong > /www/ping && httpd -f -p 8080 -h /www"]
steps:
  - name: ping
    commands:
      - echo "in a container as $(id -u)"
      - for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://web:8080/ping && break; sleep 0.3; done
`, image)})
	id, err := s.Trigger(ctx, ok)
	if err != nil {
		t.Fatal(err)
	}
	if j := waitJob(t, s, id, 60*time.Second); j.Status != ci.StatusSuccess {
		t.Fatalf("job: %s\n%s", jsonString(j), jobLog(t, s, id))
	}
	if log := jobLog(t, s, id); !strings.Contains(log, "ping | pong\n") {
		t.Errorf("log lacks the service's answer:\n%s", log)
	}

	slow := newRepo(t, map[string]string{"narwhal.yml": fmt.Sprintf("name: slow\nimage: %s\nsteps:\n  - name: wait\n    commands: [echo waiting, sleep 300]\n", image)})
	id2, err := s.Trigger(ctx, slow)
	if err != nil {
		t.Fatal(err)
	}
	waitLogLine(t, s, id2, "wait | waiting", 30*time.Second)
	cancel()
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	if left := dockerObjects(t, cfg.RunnerName+"-1"); left != "" {
		t.Errorf("left behind after shutdown:\n%s", left)
	}
}

// waitLogLine polls the job's log until it holds line.
func waitLogLine(t *testing.T, s *Stack, id, line string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		var chunk struct{ Data string }
		apiGet(t, s, "/jobs/"+id+"/logs", &chunk)
		if strings.Contains(chunk.Data, line) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("job %s never logged %q", id, line)
}

// dockerObjects lists the containers, networks and volumes labelled with runner.
func dockerObjects(t *testing.T, runner string) string {
	t.Helper()
	filter := "label=" + docker.LabelRunner + "=" + runner
	var all []string
	for _, kind := range []string{"container", "network", "volume"} {
		args := []string{kind, "ls", "-q", "--filter", filter}
		if kind == "container" {
			args = append(args, "-a")
		}
		out, err := exec.Command("docker", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if s := strings.TrimSpace(string(out)); s != "" {
			all = append(all, kind+": "+s)
		}
	}
	return strings.Join(all, "\n")
}

// TestRabbitMQAndDynamoDB runs a job through the stack with RabbitMQ as the
// queue and DynamoDB (moto) as the store: configuration, not code, changes.
func TestRabbitMQAndDynamoDB(t *testing.T) {
	// Not parallel: testenv.AWSEndpoint sets the AWS variables.
	cfg := testConfig(t)
	cfg.AMQPURL = testenv.AMQPURL(t)
	cfg.AWSEndpoint = testenv.AWSEndpoint(t)
	cfg.AMQPPrefix = uniqueName(t, "dev") + "."
	cfg.Table = uniqueName(t, "narwhal-dev-")
	cfg.Exec = fake.New()
	cfg.Heartbeat = time.Second // moto takes tens of milliseconds per call
	s, _ := startStack(t, cfg)
	if !strings.HasPrefix(s.Info().Queue, "rabbitmq") || !strings.HasPrefix(s.Info().Store, "dynamodb") {
		t.Fatalf("backends: %s, %s", s.Info().Queue, s.Info().Store)
	}
	id, err := s.Trigger(context.Background(), newRepo(t, map[string]string{"narwhal.yml": twoSteps}))
	if err != nil {
		t.Fatal(err)
	}
	if j := waitJob(t, s, id, 30*time.Second); j.Status != ci.StatusSuccess {
		t.Fatalf("job: %s", jsonString(j))
	}
}
