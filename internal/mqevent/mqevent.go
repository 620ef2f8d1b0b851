// Package mqevent is the codec of the Lambda event source for Amazon MQ
// (RabbitMQ): an events.RabbitMQEvent built from AMQP deliveries the way the
// event source builds it (Event, for internal/mqbridge, which plays the event
// source where there is none), and a message of such an event turned back
// into the ci.Delivery a handler consumes (Delivery, for the dispatcher
// function). With internal/lambdahttp and internal/mqbridge it is one of the
// event adapters allowed to import aws-lambda-go's events package.
package mqevent

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/narwhal-ci/narwhal/internal/queue"

	"github.com/aws/aws-lambda-go/events"
	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// EventSource is the eventSource of every Amazon MQ for RabbitMQ event.
const EventSource = "aws:rmq"

// DefaultEventSourceARN is the eventSourceArn of the events the bridge builds
// when its Config names none: an Amazon MQ broker ARN that exists nowhere.
const DefaultEventSourceARN = "arn:aws:mq:us-east-1:000000000000:broker:narwhal-local:b-00000000-0000-0000-0000-000000000000"

// timestampLayout is how the event source prints basicProperties.timestamp:
// "Jan 1, 1970, 12:33:41 AM" (UTC).
const timestampLayout = "Jan 2, 2006, 3:04:05 PM"

// QueueKey is the key of a queue's messages in rmqMessagesByQueue:
// "<queue>::<vhost>", e.g. "narwhal.jobs::/".
func QueueKey(queue, vhost string) string { return queue + "::" + vhost }

// Event builds the event of one batch of deliveries from queue on vhost, in
// the shape the Lambda MQ event source gives a function.
func Event(sourceARN, queue, vhost string, batch []amqp091.Delivery) events.RabbitMQEvent {
	msgs := make([]events.RabbitMQMessage, len(batch))
	for i, d := range batch {
		msgs[i] = Message(d)
	}
	return events.RabbitMQEvent{
		EventSource:     EventSource,
		EventSourceARN:  sourceARN,
		MessagesByQueue: map[string][]events.RabbitMQMessage{QueueKey(queue, vhost): msgs},
	}
}

// Message converts one delivery: the body base64 in data, string and byte
// array headers as {"bytes": [signed bytes]}, numbers and booleans as they
// are, absent optional properties as null.
func Message(d amqp091.Delivery) events.RabbitMQMessage {
	return events.RabbitMQMessage{
		Data:        base64.StdEncoding.EncodeToString(d.Body),
		Redelivered: d.Redelivered,
		BasicProperties: events.RabbitMQBasicProperties{
			ContentType:     d.ContentType,
			ContentEncoding: optional(d.ContentEncoding),
			Headers:         headers(d.Headers),
			DeliveryMode:    d.DeliveryMode,
			Priority:        d.Priority,
			CorrelationID:   optional(d.CorrelationId),
			ReplyTo:         optional(d.ReplyTo),
			Expiration:      d.Expiration,
			MessageID:       optional(d.MessageId),
			Timestamp:       timestamp(d.Timestamp),
			Type:            optional(d.Type),
			UserID:          d.UserId,
			AppID:           optional(d.AppId),
			BodySize:        uint64(len(d.Body)),
		},
	}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timestampLayout)
}

// headers converts an AMQP header table; nil stays nil.
func headers(t amqp091.Table) map[string]any {
	if t == nil {
		return nil
	}
	out := make(map[string]any, len(t))
	for k, v := range t {
		out[k] = headerValue(v)
	}
	return out
}

func headerValue(v any) any {
	switch x := v.(type) {
	case string:
		return byteArray([]byte(x))
	case []byte:
		return byteArray(x)
	case amqp091.Table:
		return headers(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = headerValue(e)
		}
		return out
	case time.Time:
		return x.Unix()
	case amqp091.Decimal:
		return fmt.Sprintf("%de-%d", x.Value, x.Scale)
	}
	return v
}

// byteArray is how the event source (Java) prints a string: signed bytes.
func byteArray(b []byte) map[string]any {
	s := make([]int8, len(b))
	for i, c := range b {
		s[i] = int8(c)
	}
	return map[string]any{"bytes": s}
}

// Delivery turns one message of an event back into what a ci.Handler
// consumes: the decoded body, the message ID, the string headers (headers
// starting with "x-" belong to the broker and are left out, as the amqp
// adapter does), Redelivered, and Attempt from x-delivery-count. The event
// carries no routing key, so Key is empty.
func Delivery(m events.RabbitMQMessage) (ci.Delivery, error) {
	body, err := base64.StdEncoding.DecodeString(m.Data)
	if err != nil {
		return ci.Delivery{}, fmt.Errorf("decode message data: %w", err)
	}
	props := m.BasicProperties
	d := ci.Delivery{Message: ci.Message{Body: body}, Redelivered: m.Redelivered, Attempt: 1}
	if props.MessageID != nil {
		d.ID = *props.MessageID
	}
	for k, v := range props.Headers {
		if k == "x-delivery-count" {
			d.Attempt = queue.HeaderInt(v) + 1
			continue
		}
		if s, ok := headerString(v); ok && !strings.HasPrefix(k, "x-") {
			if d.Headers == nil {
				d.Headers = map[string]string{}
			}
			d.Headers[k] = s
		}
	}
	return d, nil
}

// headerString reads a {"bytes": [...]} header, as built by byteArray or
// decoded from JSON.
func headerString(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", false
	}
	switch bs := m["bytes"].(type) {
	case []int8:
		b := make([]byte, len(bs))
		for i, c := range bs {
			b[i] = byte(c)
		}
		return string(b), true
	case []any:
		b := make([]byte, len(bs))
		for i, c := range bs {
			b[i] = byte(queue.HeaderInt(c))
		}
		return string(b), true
	}
	return "", false
}
