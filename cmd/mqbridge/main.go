// Command mqbridge feeds RabbitMQ queues to a Lambda function the way the
// Amazon MQ event source mapping does (internal/mqbridge): batches of up to
// -batch-size messages gathered for up to -batching-window, one invocation
// at a time per queue, the whole batch acked on success and returned to the
// queue on failure. It is for local stacks without the mapping: LocalStack
// with `sam local start-lambda`, or the runtime interface emulator.
//
//	mqbridge --invoke http://127.0.0.1:3001/2015-03-31/functions/DispatcherFunction/invocations
//	mqbridge --amqp-url amqp://narwhal:narwhal@127.0.0.1:5672/ --queue narwhal.jobs --queue narwhal.events \
//	  --invoke http://127.0.0.1:9000/2015-03-31/functions/function/invocations
//
// Each queue is its own mapping: with several queues the function may be
// invoked concurrently, which the bare emulator cannot take (run one
// emulator per queue there, or use sam local start-lambda).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/narwhal-ci/narwhal/internal/mqevent"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/mqbridge"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// options are the command line, with defaults from the environment.
type options struct {
	amqpURL, prefix, invoke, arn string
	queues                       queueList
	batchSize                    int
	window, failureDelay         time.Duration
	logLevel                     slog.Level
}

// queueList collects repeated --queue flags.
type queueList []string

func (q *queueList) String() string     { return strings.Join(*q, ",") }
func (q *queueList) Set(v string) error { *q = append(*q, v); return nil }

// run is the command with its context, arguments, log output and
// environment; it returns the exit code: 0 after ctx ended, 1 when a bridge
// cannot start, 2 for bad usage.
func run(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) int {
	o, err := parse(args, stderr, getenv)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "mqbridge:", err)
		}
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: o.logLevel}))
	var bridges []*mqbridge.Bridge
	for _, q := range o.queues {
		b, err := mqbridge.New(o.config(q, log))
		if err != nil {
			fmt.Fprintln(stderr, "mqbridge:", err)
			return 1
		}
		bridges = append(bridges, b)
	}
	log.Info("mqbridge started", "queues", o.queues.String(), "invoke", o.invoke, "batch_size", o.batchSize, "window", o.window)
	var wg sync.WaitGroup
	for _, b := range bridges {
		wg.Go(func() { b.Run(ctx) }) // Run returns nil once ctx ends
	}
	wg.Wait()
	log.Info("mqbridge stopped")
	return 0
}

func parse(args []string, stderr io.Writer, getenv func(string) string) (options, error) {
	var o options
	fs := flag.NewFlagSet("mqbridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.amqpURL, "amqp-url", or(getenv("NARWHAL_AMQP_URL"), "amqp://narwhal:narwhal@127.0.0.1:5672/"), "the broker (env NARWHAL_AMQP_URL)")
	fs.StringVar(&o.prefix, "prefix", getenv("NARWHAL_AMQP_PREFIX"), "prefix of the queue names (env NARWHAL_AMQP_PREFIX)")
	fs.Var(&o.queues, "queue", "a queue to consume, repeatable (default narwhal.jobs)")
	fs.StringVar(&o.invoke, "invoke", "", "the function's Lambda Invoke URL (required)")
	fs.IntVar(&o.batchSize, "batch-size", mqbridge.DefaultBatchSize, "most messages per invocation (BatchSize)")
	fs.DurationVar(&o.window, "batching-window", mqbridge.DefaultWindow, "gathering time after a batch's first message (MaximumBatchingWindowInSeconds); 0: none")
	fs.DurationVar(&o.failureDelay, "failure-delay", mqbridge.DefaultFailureDelay, "pause after a failed invocation, doubling up to 30s")
	fs.StringVar(&o.arn, "event-source-arn", mqevent.DefaultEventSourceARN, "the events' eventSourceArn")
	level := fs.String("log-level", or(getenv("NARWHAL_LOG_LEVEL"), "info"), "debug, info, warn or error (env NARWHAL_LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.invoke == "" {
		return o, errors.New("--invoke is required: the function's Invoke URL, e.g. http://127.0.0.1:3001/2015-03-31/functions/DispatcherFunction/invocations")
	}
	if o.batchSize < 1 || o.batchSize > 10000 {
		return o, fmt.Errorf("--batch-size %d: want 1 to 10000", o.batchSize)
	}
	if len(o.queues) == 0 {
		o.queues = queueList{ci.QueueJobs}
	}
	if err := o.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return o, fmt.Errorf("--log-level: %w", err)
	}
	return o, nil
}

// config is the bridge of one queue.
func (o options) config(queue string, log *slog.Logger) mqbridge.Config {
	window := o.window
	if window <= 0 {
		window = -1 // the bridge's "no wait"
	}
	return mqbridge.Config{
		URL: o.amqpURL, Queue: o.prefix + queue, BatchSize: o.batchSize, Window: window,
		FailureDelay: o.failureDelay, EventSourceARN: o.arn, Logger: log,
		Invoker: &mqbridge.Endpoint{URL: o.invoke},
	}
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
