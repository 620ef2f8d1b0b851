package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/dispatch"
	"github.com/narwhal-ci/narwhal/internal/lambdahttp"
)

// fakeCore records what the handler asks of the dispatcher.
type fakeCore struct {
	mu       sync.Mutex
	jobs     []ci.Delivery
	events   []string // runner report bodies, in the order handled
	monitors int
	fail     func(dl ci.Delivery) error // nil: every message succeeds
}

func (f *fakeCore) HandleJob(_ context.Context, dl ci.Delivery) error {
	f.mu.Lock()
	f.jobs = append(f.jobs, dl)
	f.mu.Unlock()
	if f.fail != nil {
		return f.fail(dl)
	}
	return nil
}

func (f *fakeCore) HandleEvent(_ context.Context, dl ci.Delivery) error {
	time.Sleep(time.Millisecond) // out-of-order handling would show
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, string(dl.Body))
	return nil
}

func (f *fakeCore) Monitor(context.Context) (dispatch.MonitorResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.monitors++
	return dispatch.MonitorResult{Republished: 2}, nil
}

func newHandler(f *fakeCore, prefix string) *handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"ok":true}`) })
	return &handler{core: f, api: lambdahttp.Handler(mux), prefix: prefix, log: slog.New(slog.DiscardHandler)}
}

// invoke runs the handler as lambda.Start would, through aws-lambda-go's
// handler wrapper.
func invoke(t *testing.T, h *handler, payload []byte) ([]byte, error) {
	t.Helper()
	return lambda.NewHandler(h.Invoke).Invoke(context.Background(), payload)
}

func sample(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile("../../events/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestJobBatch(t *testing.T) {
	t.Parallel()
	f := &fakeCore{}
	if _, err := invoke(t, newHandler(f, ""), sample(t, "mq-batch.json")); err != nil {
		t.Fatal(err)
	}
	if len(f.jobs) != 1 || !strings.Contains(string(f.jobs[0].Body), `"attempt":1`) || f.jobs[0].ID == "" || f.jobs[0].Attempt != 1 {
		t.Fatalf("HandleJob got %+v", f.jobs)
	}
}

// mqEvent is a batch of bodies on queue.
func mqEvent(queue string, bodies ...string) []byte {
	var msgs []events.RabbitMQMessage
	for _, b := range bodies {
		id := b
		msgs = append(msgs, events.RabbitMQMessage{Data: base64.StdEncoding.EncodeToString([]byte(b)),
			BasicProperties: events.RabbitMQBasicProperties{MessageID: &id}})
	}
	raw, _ := json.Marshal(events.RabbitMQEvent{EventSource: "aws:rmq",
		MessagesByQueue: map[string][]events.RabbitMQMessage{queue + "::/": msgs}})
	return raw
}

func TestFailedMessageFailsTheBatch(t *testing.T) {
	t.Parallel()
	f := &fakeCore{fail: func(dl ci.Delivery) error {
		if string(dl.Body) == "bad" {
			return errors.New("no such job")
		}
		return nil
	}}
	_, err := invoke(t, newHandler(f, "p."), mqEvent("p.narwhal.jobs", "a", "bad", "c"))
	if err == nil || !strings.Contains(err.Error(), "no such job") {
		t.Fatalf("a batch with a failed message returned %v", err)
	}
	if len(f.jobs) != 3 {
		t.Errorf("%d of 3 messages handled: the others must still be handled", len(f.jobs))
	}
}

func TestEventsInOrder(t *testing.T) {
	t.Parallel()
	f := &fakeCore{}
	bodies := []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}
	if _, err := invoke(t, newHandler(f, ""), mqEvent("narwhal.events", bodies...)); err != nil {
		t.Fatal(err)
	}
	if strings.Join(f.events, ",") != strings.Join(bodies, ",") {
		t.Fatalf("reports handled as %v", f.events)
	}
}

func TestUnknownQueue(t *testing.T) {
	t.Parallel()
	f := &fakeCore{}
	// Without the prefix the queue is someone else's.
	if _, err := invoke(t, newHandler(f, "p."), mqEvent("narwhal.jobs", "a")); err == nil || len(f.jobs) != 0 {
		t.Fatalf("messages of an unknown queue: %v, handled %d", err, len(f.jobs))
	}
}

func TestSchedule(t *testing.T) {
	t.Parallel()
	f := &fakeCore{}
	out, err := invoke(t, newHandler(f, ""), sample(t, "schedule.json"))
	if err != nil || f.monitors != 1 || !strings.Contains(string(out), `"republished":2`) {
		t.Fatalf("schedule: %s %v, monitors %d", out, err, f.monitors)
	}
}

func TestHTTPAPI(t *testing.T) {
	t.Parallel()
	f := &fakeCore{}
	ev := lambdahttp.NewEvent(httptest.NewRequest("GET", "/healthz", nil), nil, time.Now())
	raw, _ := json.Marshal(ev)
	out, err := invoke(t, newHandler(f, ""), raw)
	var resp events.APIGatewayV2HTTPResponse
	if err != nil || json.Unmarshal(out, &resp) != nil || resp.StatusCode != 200 || resp.Body != `{"ok":true}` {
		t.Fatalf("GET /healthz: %s %v", out, err)
	}
	if f.monitors+len(f.jobs)+len(f.events) != 0 {
		t.Errorf("an HTTP request reached the dispatcher core")
	}
}

func TestUnknownEvent(t *testing.T) {
	t.Parallel()
	for _, payload := range []string{`{}`, `{"Records":[]}`, `[1]`, `{"detail-type":"Scheduled Event","source":"my.app"}`} {
		if _, err := invoke(t, newHandler(&fakeCore{}, ""), []byte(payload)); err == nil {
			t.Errorf("%s accepted", payload)
		}
	}
}
