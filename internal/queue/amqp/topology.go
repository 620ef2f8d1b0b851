package amqp

import (
	"fmt"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/narwhal-ci/narwhal/internal/queue"
)

// Queue arguments that amqp091 has no constant for.
const (
	argDeliveryLimit = "x-delivery-limit"
	argDeadLetter    = "x-dead-letter-exchange"
)

// exchangeDecl is one exchange to declare, with an optional binding of it to
// a source exchange (an exchange-to-exchange binding).
type exchangeDecl struct {
	name, kind  string
	source, key string // bind name to source with key; "" for no binding
}

// queueDecl is one durable queue to declare and bind to exchange with key.
type queueDecl struct {
	name          string
	args          amqp091.Table
	exchange, key string
}

// topology lists everything New declares, with cfg.Prefix applied. It is pure,
// so the arguments are checked by a table test; docs/queue.md draws it.
func topology(cfg Config) ([]exchangeDecl, []queueDecl) {
	p := cfg.Prefix
	exchanges := []exchangeDecl{
		{name: p + queue.Exchange, kind: amqp091.ExchangeTopic},
		{name: p + queue.DeadLetterExchange, kind: amqp091.ExchangeTopic},
		{name: p + queue.MetricsExchange, kind: amqp091.ExchangeFanout,
			source: p + queue.Exchange, key: queue.RouteMetrics},
	}
	var queues []queueDecl
	for _, b := range queue.Bindings {
		queues = append(queues,
			queueDecl{name: p + b.Queue, exchange: p + queue.Exchange, key: b.Pattern, args: amqp091.Table{
				amqp091.QueueTypeArg: amqp091.QueueTypeQuorum,
				argDeliveryLimit:     cfg.DeliveryLimit,
				argDeadLetter:        p + queue.DeadLetterExchange,
			}},
			queueDecl{name: p + b.Dead, exchange: p + queue.DeadLetterExchange, key: b.Pattern,
				args: amqp091.Table{amqp091.QueueTypeArg: amqp091.QueueTypeQuorum}},
		)
	}
	for _, bucket := range queue.WaitBuckets {
		name := p + queue.WaitQueue(bucket)
		exchanges = append(exchanges, exchangeDecl{name: name, kind: amqp091.ExchangeFanout})
		queues = append(queues, queueDecl{name: name, exchange: name, args: amqp091.Table{
			amqp091.QueueTypeArg:       amqp091.QueueTypeClassic,
			amqp091.QueueMessageTTLArg: bucket.Milliseconds(),
			argDeadLetter:              p + queue.Exchange,
		}})
	}
	return exchanges, queues
}

// declare declares the topology on ch. Every declaration is idempotent as long
// as the arguments did not change; a change fails with PRECONDITION_FAILED.
func declare(ch *amqp091.Channel, cfg Config) error {
	exchanges, queues := topology(cfg)
	for _, e := range exchanges {
		if err := ch.ExchangeDeclare(e.name, e.kind, true, false, false, false, nil); err != nil {
			return fmt.Errorf("declare exchange %s: %w", e.name, err)
		}
		if e.source == "" {
			continue
		}
		if err := ch.ExchangeBind(e.name, e.key, e.source, false, nil); err != nil {
			return fmt.Errorf("bind exchange %s to %s: %w", e.name, e.source, err)
		}
	}
	for _, q := range queues {
		if _, err := ch.QueueDeclare(q.name, true, false, false, false, q.args); err != nil {
			return fmt.Errorf("declare queue %s: %w", q.name, err)
		}
		if err := ch.QueueBind(q.name, q.key, q.exchange, false, nil); err != nil {
			return fmt.Errorf("bind queue %s to %s: %w", q.name, q.exchange, err)
		}
	}
	return nil
}
