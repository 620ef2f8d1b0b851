package mqbridge

import (
	"context"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/mqevent"

	"github.com/aws/aws-lambda-go/events"
	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

func TestBatchSizeAndWindow(t *testing.T) {
	t.Parallel()
	r := newRig(t, 0, "")
	fn := newStandIn(t)
	ids := []string{"j0", "j1", "j2", "j3", "j4", "j5", "j6"}
	r.publish(t, ids...)
	const window = 500 * time.Millisecond
	stop := r.run(t, Config{Invoker: fn.invoker(), BatchSize: 3, Window: window})
	waitFor(t, "7 messages", 10*time.Second, func() bool { return fn.messages() == 7 })

	calls := fn.snapshot()
	var got []string
	var sizes []int
	for _, c := range calls {
		got, sizes = append(got, c.ids()...), append(sizes, len(c.msgs))
	}
	if !reflect.DeepEqual(sizes, []int{3, 3, 1}) || !reflect.DeepEqual(got, ids) {
		t.Fatalf("batches %v with %v, want [3 3 1] with %v", sizes, got, ids)
	}
	if gap := calls[1].at.Sub(calls[0].at); gap >= window {
		t.Errorf("a full batch waited %v for the window", gap)
	}
	if gap := calls[2].at.Sub(calls[1].at); gap < window {
		t.Errorf("a partial batch went after %v, before the %v window", gap, window)
	}
	// An idle bridge: one message waits for the window, not longer.
	sent := time.Now()
	r.publish(t, "j7")
	waitFor(t, "j7", 10*time.Second, func() bool { return fn.messages() == 8 })
	if took := fn.snapshot()[3].at.Sub(sent); took < window || took > window+2*time.Second {
		t.Errorf("a lone message took %v, want the %v window", took, window)
	}

	first := calls[0]
	if first.key != r.jobs()+"::/" || first.ev.EventSource != "aws:rmq" || first.ev.EventSourceARN != mqevent.DefaultEventSourceARN {
		t.Errorf("event key %q source %q arn %q", first.key, first.ev.EventSource, first.ev.EventSourceARN)
	}
	d, err := mqevent.Delivery(first.msgs[0])
	if err != nil || string(d.Body) != `{"job_id":"j0","attempt":1}` || d.Headers["origin"] != "test" ||
		d.Redelivered || d.Attempt != 1 || first.msgs[0].BasicProperties.ContentType != "application/json" {
		t.Errorf("first message %+v (%v)", d, err)
	}
	stop()
	if n := r.depth(t, r.jobs()); n != 0 {
		t.Errorf("%d messages left after acks", n)
	}
}

func TestFailedInvocationRedeliversBatch(t *testing.T) {
	t.Parallel()
	failures := map[string]func(w http.ResponseWriter){
		"function error": func(w http.ResponseWriter) {
			w.Write([]byte(`{"errorMessage":"boom","errorType":"errorString"}`))
		},
		"status 502": func(w http.ResponseWriter) { w.WriteHeader(502) },
		"transport error": func(w http.ResponseWriter) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		},
	}
	for name, fail := range failures {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, 0, "")
			fn := newStandIn(t)
			fn.fail = func(n int, _ events.RabbitMQEvent) func(http.ResponseWriter) {
				if n == 0 {
					return fail
				}
				return nil
			}
			r.publish(t, "a", "b")
			stop := r.run(t, Config{Invoker: fn.invoker(), BatchSize: 2, Window: 200 * time.Millisecond,
				FailureDelay: 20 * time.Millisecond})
			waitFor(t, "the redelivery", 10*time.Second, func() bool { return len(fn.snapshot()) >= 2 })
			time.Sleep(300 * time.Millisecond) // room for a wrong third call
			stop()
			calls := fn.snapshot()
			if len(calls) != 2 {
				t.Fatalf("%d invocations, want 2", len(calls))
			}
			for i, c := range calls {
				if !reflect.DeepEqual(c.ids(), []string{"a", "b"}) {
					t.Fatalf("call %d got %v, want the whole batch [a b]", i, c.ids())
				}
				for _, m := range c.msgs {
					d, _ := mqevent.Delivery(m)
					if m.Redelivered != (i == 1) || d.Attempt != i+1 {
						t.Errorf("call %d: redelivered %v attempt %d", i, m.Redelivered, d.Attempt)
					}
				}
			}
			if n := r.depth(t, r.jobs()); n != 0 {
				t.Errorf("%d messages left after the successful retry", n)
			}
		})
	}
}

func TestPoisonMessageDeadLettered(t *testing.T) {
	t.Parallel()
	const limit = 2
	r := newRig(t, limit, "")
	fn := newStandIn(t)
	fn.fail = func(_ int, ev events.RabbitMQEvent) func(http.ResponseWriter) {
		for _, msgs := range ev.MessagesByQueue {
			if *msgs[0].BasicProperties.MessageID == "poison" {
				return func(w http.ResponseWriter) { w.Write([]byte(`{"errorMessage":"bad job","errorType":"x"}`)) }
			}
		}
		return nil
	}
	r.publish(t, "poison", "good")
	stop := r.run(t, Config{Invoker: fn.invoker(), BatchSize: 1, Window: -1, FailureDelay: 10 * time.Millisecond})
	dead := r.prefix + queue.QueueJobsDead
	waitFor(t, "the dead letter", 10*time.Second, func() bool { return r.depth(t, dead) == 1 })
	waitFor(t, "the good message", 5*time.Second, func() bool {
		calls := fn.snapshot()
		return len(calls) > 0 && calls[len(calls)-1].ids()[0] == "good"
	})
	time.Sleep(200 * time.Millisecond)
	stop()
	count := map[string]int{}
	for _, c := range fn.snapshot() {
		count[c.ids()[0]]++
	}
	if count["poison"] != limit+1 || count["good"] != 1 {
		t.Fatalf("invocations %v, want poison %d times and good once", count, limit+1)
	}
	if n := r.depth(t, r.jobs()); n != 0 {
		t.Errorf("%d messages left on the jobs queue", n)
	}
	conn, _ := amqp091.Dial(r.url)
	defer conn.Close()
	ch, _ := conn.Channel()
	m, ok, err := ch.Get(dead, true)
	if err != nil || !ok || m.MessageId != "poison" {
		t.Fatalf("dead letter %q %v %v", m.MessageId, ok, err)
	}
}

// TestWaitsForQueue: the bridge declares nothing; it waits until the queue
// exists, then consumes.
func TestWaitsForQueue(t *testing.T) {
	t.Parallel()
	url := testenv.AMQPURL(t)
	prefix := "mqbridge-test-" + randomID() + "."
	logs := &testenv.Buffer{}
	fn := newStandIn(t)
	b, err := New(Config{URL: url, Queue: prefix + ci.QueueJobs, Invoker: fn.invoker(), Window: -1,
		FailureDelay: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	waitFor(t, "a failed queue check", 5*time.Second, func() bool { return strings.Contains(logs.String(), "NOT_FOUND") })
	if exists(t, url, prefix+ci.QueueJobs) {
		t.Fatal("the bridge declared the queue")
	}
	r := newRig(t, 0, prefix)
	r.publish(t, "late")
	waitFor(t, "the message", 10*time.Second, func() bool { return fn.messages() == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestNewChecksConfig(t *testing.T) {
	t.Parallel()
	inv := InvokerFunc(func(context.Context, events.RabbitMQEvent) error { return nil })
	for _, cfg := range []Config{
		{Queue: "q", Invoker: inv}, {URL: "amqp://h/", Invoker: inv}, {URL: "amqp://h/", Queue: "q"},
		{URL: "http://h/", Queue: "q", Invoker: inv},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	b, err := New(Config{URL: "amqp://u:p@h:5672/ci", Queue: "q", Invoker: inv})
	if err != nil || b.vhost != "ci" || b.cfg.BatchSize != DefaultBatchSize || b.cfg.Window != DefaultWindow {
		t.Fatalf("%+v %v", b, err)
	}
}

func exists(t *testing.T, url, name string) bool {
	ch, closeConn := testenv.AMQPChannel(t, url)
	defer closeConn()
	_, err := ch.QueueDeclarePassive(name, true, false, false, false, nil)
	return err == nil
}
