package amqp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// BenchmarkPublish publishes job-sized persistent messages with confirms
// from a fixed number of concurrent publishers, the way the webhook intake
// does: each publisher waits for its confirm before it sends the next one.
// It reports messages/s and the p50/p99 of one confirmed publish, which
// shows how the broker's confirm latency bounds a closed loop of senders.
func BenchmarkPublish(b *testing.B) {
	for _, n := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("publishers=%d", n), func(b *testing.B) {
			q := newQueue(b, testConfig(b))
			publishConcurrently(b, q.Publish, n)
		})
	}
}

// BenchmarkPublishRaw is the broker's own floor under BenchmarkPublish:
// the same messages into the same topology from 8 publishers, straight
// through amqp091 on 1 or 8 confirm channels, without the adapter (no
// return matching, no slots, no reconnection). What 8 publishers reach here
// bounds what 8 concurrent webhooks can reach with RabbitMQ; channels=8
// shows whether more channels than the adapter's one would help.
func BenchmarkPublishRaw(b *testing.B) {
	for _, channels := range []int{1, 8} {
		b.Run(fmt.Sprintf("publishers=8/channels=%d", channels), func(b *testing.B) {
			cfg := testConfig(b)
			q := newQueue(b, cfg)
			var chans []*amqp091.Channel
			for range channels {
				ch, err := q.current().conn.Channel()
				if err != nil {
					b.Fatal(err)
				}
				if err := ch.Confirm(false); err != nil {
					b.Fatal(err)
				}
				chans = append(chans, ch)
			}
			var n atomic.Int64
			publish := func(_ context.Context, m ci.Message) error {
				ch := chans[int(n.Add(1))%len(chans)]
				dc, err := ch.PublishWithDeferredConfirm(cfg.Prefix+queue.Exchange, m.Key, true, false,
					amqp091.Publishing{DeliveryMode: amqp091.Persistent, MessageId: m.ID, Body: m.Body})
				if err != nil {
					return err
				}
				if !dc.Wait() {
					return errors.New("nack")
				}
				return nil
			}
			publishConcurrently(b, publish, 8)
		})
	}
}

// publishConcurrently makes b.N calls of publish from publishers goroutines
// and reports throughput, latency percentiles, and the CPU time per message
// of this process and of the broker, when testenv knows its process.
func publishConcurrently(b *testing.B, publish func(context.Context, ci.Message) error, publishers int) {
	var next atomic.Int64
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	var failed sync.Once
	b.ResetTimer()
	self, brk := testenv.StartCPU(b, 0), testenv.StartBrokerCPU(b)
	start := time.Now()
	for range publishers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < b.N; i = int(next.Add(1)) - 1 {
				m := ci.Message{Key: ci.RouteJob, ID: "job-" + strconv.Itoa(i), Body: []byte(`{"job_id":"0123456789abcdef0123","attempt":1}`)}
				t0 := time.Now()
				if err := publish(context.Background(), m); err != nil {
					failed.Do(func() { b.Errorf("publish: %v", err) })
					return
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	self.ReportPerOp(b, b.N, "cpu-us/msg")
	brk.ReportPerOp(b, b.N, "broker-cpu-us/msg")
}
