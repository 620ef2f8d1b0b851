package mqevent

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

var update = flag.Bool("update", false, "rewrite events/mq-batch.json")

func TestMessageShape(t *testing.T) {
	t.Parallel()
	d := amqp091.Delivery{
		Body:        []byte(`{"job_id":"j1","attempt":1}`),
		ContentType: "application/json", DeliveryMode: 2, MessageId: "j1", Redelivered: true,
		Timestamp: time.Date(1970, 1, 1, 0, 33, 41, 0, time.UTC),
		Headers: amqp091.Table{
			"runner-id": "r1", "x-delivery-count": int64(2), "snowman": "é",
			"raw": []byte{1, 255}, "ok": true, "nested": amqp091.Table{"k": "v"},
		},
	}
	raw, err := json.Marshal(Event("arn:x", "narwhal.jobs", "/", []amqp091.Delivery{d}))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	json.Unmarshal(raw, &got)
	msg := got["rmqMessagesByQueue"].(map[string]any)["narwhal.jobs::/"].([]any)[0].(map[string]any)
	props := msg["basicProperties"].(map[string]any)
	h := props["headers"].(map[string]any)
	want := map[string]any{
		"runner-id":        map[string]any{"bytes": []any{114.0, 49.0}},
		"snowman":          map[string]any{"bytes": []any{-61.0, -87.0}}, // signed, as Java prints them
		"raw":              map[string]any{"bytes": []any{1.0, -1.0}},
		"x-delivery-count": 2.0, "ok": true,
		"nested": map[string]any{"k": map[string]any{"bytes": []any{118.0}}},
	}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("headers\n got %v\nwant %v", h, want)
	}
	checks := map[string]any{
		"timestamp": "Jan 1, 1970, 12:33:41 AM", "messageId": "j1", "correlationId": nil,
		"contentEncoding": nil, "bodySize": float64(len(d.Body)), "deliveryMode": 2.0,
	}
	for k, v := range checks {
		if props[k] != v {
			t.Errorf("basicProperties.%s = %#v, want %#v", k, props[k], v)
		}
	}
	if got["eventSource"] != "aws:rmq" || msg["redelivered"] != true ||
		msg["data"] != base64.StdEncoding.EncodeToString(d.Body) {
		t.Errorf("event %s", raw)
	}
}

func TestDeliveryRoundTrip(t *testing.T) {
	t.Parallel()
	d := amqp091.Delivery{Body: []byte("body"), MessageId: "m1", Redelivered: true,
		Headers: amqp091.Table{"runner-id": "r1", "x-delivery-count": int64(3), "x-narwhal-publish-id": "9", "n": int32(4)}}
	// Through JSON, as the function receives it.
	raw, _ := json.Marshal(Message(d))
	var m events.RabbitMQMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	got, err := Delivery(m)
	want := ci.Delivery{Message: ci.Message{ID: "m1", Body: []byte("body"), Headers: map[string]string{"runner-id": "r1"}},
		Redelivered: true, Attempt: 4}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Delivery = %+v, %v; want %+v", got, err, want)
	}
	// And directly from Message, without JSON in between.
	if got, err := Delivery(Message(d)); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Delivery(Message) = %+v, %v", got, err)
	}
	if _, err := Delivery(events.RabbitMQMessage{Data: "%%%"}); err == nil {
		t.Fatal("bad base64 accepted")
	}
	if got, _ := Delivery(events.RabbitMQMessage{Data: "e30="}); got.Attempt != 1 || string(got.Body) != "{}" {
		t.Fatalf("first delivery: %+v", got)
	}
}

// TestSampleEvent keeps events/mq-batch.json equal to what the bridge builds
// for the job message the agent publishes for events/push.json, so the two
// samples chain: `sam local invoke AgentFunction -e events/push.json`, then
// DispatcherFunction with events/mq-batch.json. -update rewrites it.
func TestSampleEvent(t *testing.T) {
	t.Parallel()
	id := pushJobID(t)
	m := ci.NewJobMessage(ci.Job{ID: id, Attempt: 1}) // what the agent publishes
	d := amqp091.Delivery{
		Body: m.Body, ContentType: "application/json", DeliveryMode: amqp091.Persistent, MessageId: m.ID,
		Timestamp: time.Date(2025, 1, 10, 9, 40, 6, 0, time.UTC), Headers: amqp091.Table{"x-narwhal-publish-id": "1"},
	}
	ev := Event(DefaultEventSourceARN, ci.QueueJobs, "/", []amqp091.Delivery{d})
	want, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	const path = "../../events/mq-batch.json"
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s is stale (%v); run go test ./internal/mqbridge -run TestSampleEvent -update\n%s", path, err, want)
	}
	var back events.RabbitMQEvent
	if err := json.Unmarshal(got, &back); err != nil || len(back.MessagesByQueue["narwhal.jobs::/"]) != 1 {
		t.Fatalf("sample does not decode as events.RabbitMQEvent: %v", err)
	}
}

// pushJobID is the ID of the job events/push.json makes.
func pushJobID(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../../events/push.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	var push struct {
		After      string `json:"after"`
		Repository struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(strings.NewReader(ev.Body)).Decode(&push); err != nil || push.After == "" {
		t.Fatalf("push.json body: %v", err)
	}
	return ci.JobID(push.Repository.FullName, push.After, ci.EventPush, 0)
}
