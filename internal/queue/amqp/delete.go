package amqp

import (
	"errors"
	"fmt"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// DeleteTopology removes every queue and exchange that New declares for cfg
// (its Prefix included), messages and all. It is for tests and for tearing
// down a prefixed environment; production topologies are long-lived. Queues
// or exchanges that do not exist are not an error.
func DeleteTopology(cfg Config) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	conn, err := amqp091.DialConfig(cfg.URL, amqp091.Config{Dial: amqp091.DefaultDial(cfg.DialTimeout)})
	if err != nil {
		return fmt.Errorf("delete topology: %w", err)
	}
	defer conn.Close()
	exchanges, queues := topology(cfg)
	var errs []error
	for _, q := range queues {
		errs = append(errs, deleteOne(conn, func(ch *amqp091.Channel) error {
			_, err := ch.QueueDelete(q.name, false, false, false)
			return err
		}))
	}
	for _, e := range exchanges {
		errs = append(errs, deleteOne(conn, func(ch *amqp091.Channel) error {
			return ch.ExchangeDelete(e.name, false, false)
		}))
	}
	return errors.Join(errs...)
}

// deleteOne runs del on a fresh channel: RabbitMQ closes a channel on the
// first error, so one missing queue must not stop the rest.
func deleteOne(conn *amqp091.Connection, del func(*amqp091.Channel) error) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("delete topology: %w", err)
	}
	defer ch.Close()
	return del(ch)
}
