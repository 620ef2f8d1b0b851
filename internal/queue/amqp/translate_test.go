package amqp

import (
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue"
)

// TestTopology checks the declared arguments that the delivery semantics
// rest on (docs/queue.md draws the same thing).
func TestTopology(t *testing.T) {
	t.Parallel()
	cfg, err := Config{URL: "amqp://x", Prefix: "p.", DeliveryLimit: 7}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	exchanges, queues := topology(cfg)
	kinds := map[string]string{}
	for _, e := range exchanges {
		kinds[e.name] = e.kind
	}
	for name, kind := range map[string]string{
		"p.narwhal": "topic", "p.narwhal.dlx": "topic", "p.narwhal.metrics": "fanout",
		"p.narwhal.wait.1s": "fanout", "p.narwhal.wait.1h": "fanout",
	} {
		if kinds[name] != kind {
			t.Errorf("exchange %s: kind %q, want %q", name, kinds[name], kind)
		}
	}
	byName := map[string]queueDecl{}
	for _, q := range queues {
		byName[q.name] = q
	}
	jobs := byName["p.narwhal.jobs"]
	want := amqp091.Table{"x-queue-type": "quorum", "x-delivery-limit": 7, "x-dead-letter-exchange": "p.narwhal.dlx"}
	checkArgs(t, jobs, want, "p.narwhal", ci.RouteJob)
	checkArgs(t, byName["p.narwhal.events"], want, "p.narwhal", ci.BindEvents)
	checkArgs(t, byName["p.narwhal.jobs.dead"], amqp091.Table{"x-queue-type": "quorum"}, "p.narwhal.dlx", ci.RouteJob)
	checkArgs(t, byName["p.narwhal.wait.5s"], amqp091.Table{"x-queue-type": "classic",
		"x-message-ttl": int64(5000), "x-dead-letter-exchange": "p.narwhal"}, "p.narwhal.wait.5s", "")
	if n := len(queues); n != 4+len(queue.WaitBuckets) {
		t.Errorf("%d queues declared, want %d", n, 4+len(queue.WaitBuckets))
	}
}

func checkArgs(t *testing.T, q queueDecl, want amqp091.Table, exchange, key string) {
	t.Helper()
	if q.exchange != exchange || q.key != key {
		t.Errorf("queue %q bound to %q with %q, want %q with %q", q.name, q.exchange, q.key, exchange, key)
	}
	if len(q.args) != len(want) {
		t.Errorf("queue %q args %v, want %v", q.name, q.args, want)
	}
	for k, v := range want {
		if q.args[k] != v {
			t.Errorf("queue %q arg %s = %v (%T), want %v (%T)", q.name, k, q.args[k], q.args[k], v, v)
		}
	}
}

// TestDelivery: the translation of an AMQP delivery keeps the message and
// the application's string headers, and turns x-delivery-count into Attempt.
func TestDelivery(t *testing.T) {
	t.Parallel()
	d := amqp091.Delivery{
		RoutingKey: "job", MessageId: "j1", Body: []byte(`{}`), Redelivered: true,
		Headers: amqp091.Table{
			"repo": "octo/cat", "x-delivery-count": int64(2), hdrPublishID: "17",
			"x-first-death-reason": "delivery_limit", "count": int32(3),
		},
	}
	got := delivery(d)
	want := ci.Delivery{Message: ci.Message{Key: "job", ID: "j1", Body: []byte(`{}`),
		Headers: map[string]string{"repo": "octo/cat"}}, Redelivered: true, Attempt: 3}
	if got.Key != want.Key || got.ID != want.ID || string(got.Body) != "{}" ||
		got.Redelivered != want.Redelivered || got.Attempt != want.Attempt ||
		len(got.Headers) != 1 || got.Headers["repo"] != "octo/cat" {
		t.Errorf("delivery() = %+v, want %+v", got, want)
	}
	if first := delivery(amqp091.Delivery{}); first.Attempt != 1 || first.Headers != nil {
		t.Errorf("first delivery: attempt %d headers %v, want 1 and nil", first.Attempt, first.Headers)
	}
}

// TestBackoff: doubling from min, capped at max, jittered down by at most a
// quarter, and back to min after reset.
func TestBackoff(t *testing.T) {
	t.Parallel()
	b := &backoff{min: 100 * time.Millisecond, max: time.Second}
	for _, base := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		base *= time.Millisecond
		if d := b.next(); d > base || d < base*3/4 {
			t.Errorf("next() = %v, want within [%v, %v]", d, base*3/4, base)
		}
	}
	b.reset()
	if d := b.next(); d > 100*time.Millisecond {
		t.Errorf("after reset next() = %v, want <= 100ms", d)
	}
}
