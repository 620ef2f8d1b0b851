package mqbridge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue/amqp"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// rig is a prefixed narwhal topology on the test RabbitMQ.
type rig struct {
	url, prefix string
	q           *amqp.Queue
}

// newRig declares the topology (delivery limit limit) under prefix, or a
// fresh one when it is "", and removes it when the test ends.
func newRig(t *testing.T, limit int, prefix string) *rig {
	t.Helper()
	url := testenv.AMQPURL(t)
	if prefix == "" {
		prefix = "mqbridge-test-" + randomID() + "."
	}
	r := &rig{url: url, prefix: prefix}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	q, err := amqp.New(ctx, amqp.Config{URL: url, Prefix: r.prefix, DeliveryLimit: limit}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	r.q = q
	t.Cleanup(func() { q.Close(); deleteTopology(t, url, r.prefix) })
	return r
}

func (r *rig) jobs() string { return r.prefix + ci.QueueJobs }

// publish puts job messages with the given IDs on the jobs queue.
func (r *rig) publish(t *testing.T, ids ...string) {
	t.Helper()
	for _, id := range ids {
		m := ci.NewJobMessage(ci.Job{ID: id, Attempt: 1})
		m.Headers = map[string]string{"origin": "test"}
		if err := r.q.Publish(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
}

// depth is the number of ready messages in a queue.
func (r *rig) depth(t *testing.T, name string) int {
	t.Helper()
	ch, closeConn := testenv.AMQPChannel(t, r.url)
	defer closeConn()
	q, err := ch.QueueDeclarePassive(name, true, false, false, false, nil)
	if err != nil {
		t.Fatalf("inspect %s: %v", name, err)
	}
	return q.Messages
}

// run starts a bridge on the jobs queue and stops it when the test ends or
// the returned stop is called.
func (r *rig) run(t *testing.T, cfg Config) (stop func()) {
	t.Helper()
	cfg.URL, cfg.Queue = r.url, r.jobs()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// call is one invocation the stand-in function received.
type call struct {
	at   time.Time
	msgs []events.RabbitMQMessage
	key  string
	ev   events.RabbitMQEvent
}

// standIn is a tiny HTTP function that records its invocations and answers
// 200 null, unless fail returns how to fail the n-th call (0-based).
type standIn struct {
	mu    sync.Mutex
	calls []call
	fail  func(n int, ev events.RabbitMQEvent) func(http.ResponseWriter)
	srv   *httptest.Server
}

func newStandIn(t *testing.T) *standIn {
	s := &standIn{}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *standIn) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var ev events.RabbitMQEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		w.WriteHeader(400)
		return
	}
	c := call{at: time.Now(), ev: ev}
	for k, msgs := range ev.MessagesByQueue {
		c.key, c.msgs = k, msgs
	}
	s.mu.Lock()
	n := len(s.calls)
	s.calls = append(s.calls, c)
	fail := s.fail
	s.mu.Unlock()
	if fail != nil {
		if answer := fail(n, ev); answer != nil {
			answer(w)
			return
		}
	}
	io.WriteString(w, "null")
}

func (s *standIn) invoker() Invoker { return &Endpoint{URL: s.srv.URL} }

func (s *standIn) snapshot() []call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]call(nil), s.calls...)
}

// messages counts the messages received so far.
func (s *standIn) messages() int {
	n := 0
	for _, c := range s.snapshot() {
		n += len(c.msgs)
	}
	return n
}

// ids lists the message IDs of a call.
func (c call) ids() []string {
	var ids []string
	for _, m := range c.msgs {
		ids = append(ids, *m.BasicProperties.MessageID)
	}
	return ids
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func randomID() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// deleteTopology removes what amqp.New declared under prefix.
func deleteTopology(t *testing.T, url, prefix string) {
	if err := amqp.DeleteTopology(amqp.Config{URL: url, Prefix: prefix}); err != nil {
		t.Errorf("delete topology: %v", err)
	}
}
