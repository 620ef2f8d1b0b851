// Package mqbridge feeds RabbitMQ messages to a function the way the Lambda
// event source mapping for Amazon MQ does, for the places that have a
// RabbitMQ but no such mapping: LocalStack (where Amazon MQ is a paid
// feature and has no trigger), `sam local start-lambda`, the runtime
// interface emulator in tests, and `narwhal dev` in one process.
//
// Like the mapping, the bridge consumes one queue, gathers up to BatchSize
// messages or what arrives within Window after the first one, builds an
// events.RabbitMQEvent (mqevent.Event), invokes the function once per batch and
// one batch at a time, acks the whole batch when the invocation succeeds
// and returns the whole batch to the queue when it fails (there is no
// partial batch response for MQ). A message that keeps failing is
// dead-lettered by the quorum queue's delivery limit, not by the bridge.
// The bridge declares nothing: it checks that the queue exists (the
// topology belongs to internal/queue/amqp) and waits for it otherwise.
//
// The event's shape is internal/mqevent's, the codec the dispatcher
// function decodes with. mqbridge is, with internal/lambdahttp and
// internal/mqevent, one of the event adapters outside functions/ allowed to
// import aws-lambda-go (internal/arch checks it).
package mqbridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/narwhal-ci/narwhal/internal/mqevent"

	"github.com/narwhal-ci/narwhal/internal/retry"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// Defaults of Config, those of the Lambda event source mapping for Amazon
// MQ where it has one.
const (
	DefaultBatchSize     = 100
	DefaultWindow        = 500 * time.Millisecond
	DefaultMaxBatchBytes = 6 << 20 // Lambda's synchronous invocation payload limit
	DefaultInvokeTimeout = 15 * time.Minute
	DefaultFailureDelay  = time.Second
	maxFailureDelay      = 30 * time.Second
)

// Config configures a Bridge. URL, Queue and Invoker are required.
type Config struct {
	// URL is the broker, amqp://user:pass@host:port/vhost.
	URL string
	// Queue is the queue to consume, with any prefix: "narwhal.jobs".
	Queue string
	// Invoker receives the batches.
	Invoker Invoker
	// BatchSize is the most messages per invocation (the mapping's
	// BatchSize). Default 100.
	BatchSize int
	// Window is how long to gather messages after the first one of a batch
	// (MaximumBatchingWindowInSeconds). Default 500ms; negative: no wait.
	Window time.Duration
	// MaxBatchBytes bounds the base64 data of a batch; a message that would
	// exceed it starts the next batch. Default 6 MiB.
	MaxBatchBytes int
	// InvokeTimeout bounds one invocation. Default 15m, Lambda's longest.
	InvokeTimeout time.Duration
	// FailureDelay is the pause after a failed invocation, doubling with
	// each failure in a row up to 30s, so that a function that is down does
	// not burn the delivery limit of every message in a tight loop. It is
	// also the first pause before reconnecting. Default 1s.
	FailureDelay time.Duration
	// EventSourceARN is the events' eventSourceArn. Default
	// mqevent.DefaultEventSourceARN.
	EventSourceARN string
	// Logger gets a line per failed invocation and per reconnect. Default:
	// discard.
	Logger *slog.Logger
}

// Bridge moves batches from one queue to one function. Create it with New.
type Bridge struct {
	cfg   Config
	vhost string
	log   *slog.Logger
}

// New checks cfg and fills in the defaults. It does not connect.
func New(cfg Config) (*Bridge, error) {
	if cfg.URL == "" || cfg.Queue == "" || cfg.Invoker == nil {
		return nil, errors.New("mqbridge: URL, Queue and Invoker are required")
	}
	uri, err := amqp091.ParseURI(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("mqbridge: broker URL: %w", err)
	}
	setDefault(&cfg.BatchSize, DefaultBatchSize)
	setDefault(&cfg.MaxBatchBytes, DefaultMaxBatchBytes)
	setDefault(&cfg.InvokeTimeout, DefaultInvokeTimeout)
	setDefault(&cfg.FailureDelay, DefaultFailureDelay)
	setDefault(&cfg.Window, DefaultWindow)
	if cfg.EventSourceARN == "" {
		cfg.EventSourceARN = mqevent.DefaultEventSourceARN
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("queue", cfg.Queue)
	return &Bridge{cfg: cfg, vhost: uri.Vhost, log: log}, nil
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// Run consumes until ctx ends, then returns nil; a batch in flight then is
// neither acked nor returned explicitly, so the broker requeues it when the
// channel closes. Run reconnects with backoff when the broker goes away or
// the queue does not exist yet.
func (b *Bridge) Run(ctx context.Context) error {
	delay := b.cfg.FailureDelay
	for {
		progressed, err := b.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if progressed {
			delay = b.cfg.FailureDelay
		}
		b.log.Warn("mqbridge: consumer stopped; reconnecting", "err", err, "in", delay)
		if !retry.Sleep(ctx, delay) {
			return nil
		}
		delay = min(2*delay, maxFailureDelay)
	}
}

// session is one connection: it consumes until the connection or ctx ends
// and reports whether any batch went through.
func (b *Bridge) session(ctx context.Context) (bool, error) {
	conn, err := amqp091.DialConfig(b.cfg.URL, amqp091.Config{
		Heartbeat:  10 * time.Second,
		Dial:       amqp091.DefaultDial(5 * time.Second),
		Properties: amqp091.Table{"connection_name": "narwhal-mqbridge"},
	})
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	deliveries, err := b.consume(conn)
	if err != nil {
		return false, err
	}
	c := &collector{in: deliveries, size: b.cfg.BatchSize, window: b.cfg.Window, maxBytes: b.cfg.MaxBatchBytes}
	progressed, failures := false, 0
	for {
		batch, err := c.next(ctx)
		if err != nil {
			return progressed, err
		}
		if err := b.deliver(ctx, batch); err != nil {
			failures++
			if !retry.Sleep(ctx, b.failureDelay(failures)) {
				return progressed, ctx.Err()
			}
			continue
		}
		progressed, failures = true, 0
	}
}

// consume opens a channel, checks the queue passively and starts a consumer
// with manual acks and a prefetch of one batch.
func (b *Bridge) consume(conn *amqp091.Connection) (<-chan amqp091.Delivery, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open channel: %w", err)
	}
	if _, err := ch.QueueDeclarePassive(b.cfg.Queue, true, false, false, false, nil); err != nil {
		return nil, fmt.Errorf("check queue %s: %w", b.cfg.Queue, err)
	}
	if err := ch.Qos(b.cfg.BatchSize, 0, false); err != nil {
		return nil, fmt.Errorf("set prefetch: %w", err)
	}
	deliveries, err := ch.Consume(b.cfg.Queue, "", false, false, false, false, nil)
	if err != nil {
		return nil, fmt.Errorf("consume %s: %w", b.cfg.Queue, err)
	}
	return deliveries, nil
}

func (b *Bridge) failureDelay(failures int) time.Duration {
	d := b.cfg.FailureDelay
	for i := 1; i < failures && d < maxFailureDelay; i++ {
		d *= 2
	}
	return min(d, maxFailureDelay)
}
