package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue/amqp"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParse(t *testing.T) {
	t.Parallel()
	o, err := parse([]string{"--invoke", "http://x/i", "--queue", "narwhal.jobs", "--queue", "narwhal.events",
		"--batching-window", "0", "--batch-size", "10"}, io.Discard, env(map[string]string{
		"NARWHAL_AMQP_URL": "amqp://a/", "NARWHAL_AMQP_PREFIX": "p.", "NARWHAL_LOG_LEVEL": "debug"}))
	if err != nil {
		t.Fatal(err)
	}
	cfg := o.config("narwhal.events", slog.Default())
	if cfg.URL != "amqp://a/" || cfg.Queue != "p.narwhal.events" || cfg.BatchSize != 10 || cfg.Window >= 0 ||
		len(o.queues) != 2 || o.logLevel != slog.LevelDebug {
		t.Fatalf("%+v %+v", o, cfg)
	}
	if o, _ := parse([]string{"--invoke", "http://x"}, io.Discard, env(nil)); o.queues.String() != "narwhal.jobs" {
		t.Errorf("default queues %v", o.queues)
	}
	for _, args := range [][]string{{}, {"--invoke", "u", "extra"}, {"--invoke", "u", "--batch-size", "0"},
		{"--invoke", "u", "--log-level", "loud"}, {"--nope"}} {
		var out bytes.Buffer
		if code := run(context.Background(), args, &out, env(nil)); code != 2 || out.Len() == 0 {
			t.Errorf("run %v = %d, %q", args, code, out.String())
		}
	}
}

// TestRun bridges a real queue to a stand-in function until the context
// ends, as the command does until SIGTERM.
func TestRun(t *testing.T) {
	t.Parallel()
	url := testenv.AMQPURL(t)
	var b [4]byte
	rand.Read(b[:])
	prefix := "mqbridge-cmd-test-" + hex.EncodeToString(b[:]) + "."
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	q, err := amqp.New(ctx, amqp.Config{URL: url, Prefix: prefix}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		q.Close()
		if err := amqp.DeleteTopology(amqp.Config{URL: url, Prefix: prefix}); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	var got atomic.Value
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev events.RabbitMQEvent
		json.NewDecoder(r.Body).Decode(&ev)
		got.Store(ev)
		cancel()
	}))
	defer fn.Close()
	if err := q.Publish(ctx, ci.NewJobMessage(ci.Job{ID: "j1", Attempt: 1})); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	code := run(ctx, []string{"--amqp-url", url, "--prefix", prefix, "--invoke", fn.URL, "--batching-window", "0"}, &logs, env(nil))
	ev, _ := got.Load().(events.RabbitMQEvent)
	if code != 0 || len(ev.MessagesByQueue[prefix+"narwhal.jobs::/"]) != 1 {
		t.Fatalf("exit %d, event %+v\n%s", code, ev, logs.String())
	}
	if !strings.Contains(logs.String(), "mqbridge stopped") {
		t.Errorf("logs: %s", logs.String())
	}
}
