package webhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/intake"
	"github.com/narwhal-ci/narwhal/internal/queue"
	"github.com/narwhal-ci/narwhal/internal/queue/amqp"
	"github.com/narwhal-ci/narwhal/internal/store/sqlite"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// amqpQueue returns a lazily connected RabbitMQ queue with a topology of its
// own (a random prefix), deleted at the end of the test.
func amqpQueue(t testing.TB) *queue.Lazy {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	cfg := amqp.Config{URL: testenv.AMQPURL(t), Prefix: "agent-test-" + hex.EncodeToString(b[:]) + "."}
	q := queue.NewLazy(amqp.Dialer(cfg, "", nil, 20*time.Second, slog.New(slog.DiscardHandler)))
	t.Cleanup(func() {
		q.Close()
		if err := amqp.DeleteTopology(cfg); err != nil {
			t.Errorf("delete topology: %v", err)
		}
	})
	return q
}

// TestWebhookToRabbitMQ sends a signed push through the handler with the
// RabbitMQ queue and receives the confirmed job message.
func TestWebhookToRabbitMQ(t *testing.T) {
	t.Parallel()
	q := amqpQueue(t)
	st, err := sqlite.Open(context.Background(), sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	in := &intake.Intake{Store: st, Queue: q, Logger: slog.New(slog.DiscardHandler)}
	r := &rig{h: NewHandler(Deps{Intake: in, Secrets: SecretLines(testSecret), Logger: slog.New(slog.DiscardHandler)})}

	status, body := r.post(t, delivery{event: "push", id: "d1", body: pushBody(t, sha1, "x")})
	jobID := ci.JobID("acme/app", sha1, ci.EventPush, 0)
	if status != 202 || body["published"] != true || body["job_id"] != jobID {
		t.Fatalf("%d %v, want 202 published", status, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan ci.Delivery, 1)
	go q.Consume(ctx, ci.QueueJobs, 1, func(_ context.Context, d ci.Delivery) error {
		got <- d
		cancel()
		return nil
	})
	select {
	case d := <-got:
		var m ci.JobMessage
		if err := json.Unmarshal(d.Body, &m); err != nil || m != (ci.JobMessage{JobID: jobID, Attempt: 1}) || d.ID != jobID {
			t.Fatalf("message %+v body %s (%v)", d.Message, d.Body, err)
		}
	case <-ctx.Done():
		t.Fatal("no job message on RabbitMQ within 10s")
	}
	if j, err := st.GetJob(context.Background(), jobID); err != nil || !j.Published {
		t.Fatalf("stored job %+v (%v), want published", j, err)
	}
}
