package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/testenv"

	"github.com/rabbitmq/amqp091-go"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue"
	"github.com/narwhal-ci/narwhal/internal/runnerkey"
)

// A report published straight to RabbitMQ by a holder of the broker
// credentials, naming the job's runner and current attempt with status
// success, does not count: not unsigned, not signed by another runner of the
// fleet. The job's step then fails, and the job ends failure (issue 10,
// case 7).
func TestForgedReportIsRefused(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{})
	s.runner(runnerOpts{id: "a", executor: "host"})
	other := s.prefix + "b" // a runner of the fleet with its own token
	gate := filepath.Join(t.TempDir(), "go")
	dir, sha := gitRepo(t, "image: none\nsteps:\n  - name: doomed\n    commands:\n"+
		"      - \"while [ ! -e "+gate+" ]; do sleep 0.05; done; echo failing; exit 1\"\n")
	job := s.submit(localJob("file://"+dir, sha))
	j := s.waitStatus(job.ID, ci.StatusRunning, 30*time.Second)

	forged := ci.RunnerEvent{Kind: ci.EventJob, RunnerID: j.RunnerID, Seq: 1 << 40, Time: time.Now().UTC(),
		JobID: j.ID, Attempt: j.Attempt, Status: ci.StatusSuccess}
	body, err := json.Marshal(forged)
	if err != nil {
		t.Fatal(err)
	}
	s.publishRaw(t, "forged-unsigned", body, nil)
	s.publishRaw(t, "forged-by-b", body, amqp091.Table{
		runnerkey.Header: runnerkey.Sign(runnerkey.Token(fleetKey, other), body), "runner-id": j.RunnerID})
	eventually(t, 20*time.Second, "the forged reports consumed", func() bool {
		return len(s.jobEvents(j.ID, ci.StatusSuccess)) == 2
	})
	if got := s.job(j.ID); got.Status != ci.StatusRunning {
		t.Fatalf("after the forged reports the job is %s, want still running", got.Status)
	}
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	end := s.waitJob(j.ID, 30*time.Second, "final", func(j ci.Job) bool { return j.Status.Final() })
	if end.Status != ci.StatusFailure {
		t.Fatalf("job ended %s (%s), want failure: a forged report counted", end.Status, end.Error)
	}
}

// publishRaw publishes an event.job message on the stack's exchange as any
// holder of the broker credentials can: with amqp091 directly, not through
// narwhal's queue adapter.
func (s *stack) publishRaw(t *testing.T, id string, body []byte, headers amqp091.Table) {
	t.Helper()
	ch, closeConn := testenv.AMQPChannel(t, s.url)
	defer closeConn()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := ch.PublishWithContext(ctx, s.prefix+queue.Exchange, ci.RouteEvents+"."+string(ci.EventJob), true, false,
		amqp091.Publishing{ContentType: "application/json", DeliveryMode: amqp091.Persistent, MessageId: id,
			Body: body, Headers: headers})
	if err != nil {
		t.Fatal(err)
	}
}
