package amqp

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
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
			publishConcurrently(b, q, n)
		})
	}
}

// publishConcurrently publishes b.N messages from publishers goroutines and
// reports throughput and latency percentiles.
func publishConcurrently(b *testing.B, q *Queue, publishers int) {
	var next atomic.Int64
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	var failed sync.Once
	b.ResetTimer()
	start := time.Now()
	for range publishers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < b.N; i = int(next.Add(1)) - 1 {
				m := ci.Message{Key: ci.RouteJob, ID: "job-" + strconv.Itoa(i), Body: []byte(`{"job_id":"0123456789abcdef0123","attempt":1}`)}
				t0 := time.Now()
				if err := q.Publish(context.Background(), m); err != nil {
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
}
