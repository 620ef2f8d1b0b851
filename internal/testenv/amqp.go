package testenv

import (
	"testing"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// AMQPChannel opens a channel on the broker at url with amqp091 directly, not
// through narwhal's queue adapter (to look at queues, or to publish as any
// holder of the broker credentials could). close ends its connection; the
// end of the test does too, for a caller that failed first.
func AMQPChannel(t testing.TB, url string) (ch *amqp091.Channel, close func()) {
	t.Helper()
	conn, err := amqp091.Dial(url)
	if err != nil {
		t.Fatalf("dial broker: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err = conn.Channel()
	if err != nil {
		t.Fatalf("open channel: %v", err)
	}
	return ch, func() { conn.Close() }
}
