package webhook

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/intake"
	"github.com/narwhal-ci/narwhal/internal/queue/memq"
	"github.com/narwhal-ci/narwhal/internal/store/sqlite"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// BenchmarkIntakeSQLiteMemq sends signed push webhooks, each for a new
// commit, through the whole handler in-process, set up as narwhal dev sets
// it up: signature, parse, SQLite (a file opened exclusively) create of the
// job marked published already, and memq publish (a volatile queue needs no
// mark after it; see intake.Intake).
func BenchmarkIntakeSQLiteMemq(b *testing.B) {
	r := newRigOn(b, filepath.Join(b.TempDir(), "narwhal.db"), nil, memq.New(memq.Config{}))
	r.in.MarkLater = true
	benchWebhooks(b, r.h, r.in.Flush, false)
}

// BenchmarkIntakeRabbitMQ is BenchmarkIntakeSQLiteMemq with RabbitMQ
// publisher confirms on loopback instead of memq, as `narwhal dev
// --amqp-url` runs. It is skipped when the test RabbitMQ is not running (see
// internal/testenv). BenchmarkPublishRaw in internal/queue/amqp is the
// broker's own rate for as many waiting publishers, without narwhal.
func BenchmarkIntakeRabbitMQ(b *testing.B) {
	q := amqpQueue(b)
	st, err := sqlite.OpenWith(context.Background(), filepath.Join(b.TempDir(), "narwhal.db"), sqlite.Options{Exclusive: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	log := slog.New(slog.DiscardHandler)
	in := &intake.Intake{Store: st, Queue: q, Logger: log, MarkLater: true}
	if err := q.Publish(context.Background(), ci.Message{Key: "job", ID: "warm-up", Body: []byte("{}")}); err != nil {
		b.Fatalf("connect: %v", err)
	}
	benchWebhooks(b, NewHandler(Deps{Intake: in, Secrets: SecretLines(testSecret), Logger: log}), in.Flush, true)
}

var benchRun atomic.Int64

// benchWebhooks runs b.N distinct signed pushes through h in parallel and
// reports throughput (up to flush's return, when set), the latency
// percentiles of ServeHTTP alone, and the CPU time per webhook of this
// process (narwhal's handler and store; the deliveries are signed before the
// clock starts) and, with broker, of the test RabbitMQ node (see
// testenv.CPUClock).
func benchWebhooks(b *testing.B, h *Handler, flush func(), broker bool) {
	run := benchRun.Add(1)
	var seq atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	// The deliveries are made and signed first: that is GitHub's work, and
	// in the timed loop it took a tenth of the CPU the benchmark charges to
	// narwhal.
	reqs := make([]*http.Request, b.N)
	for i := range reqs {
		sha := fmt.Sprintf("%08x%032x", run, i)
		reqs[i] = delivery{event: "push", id: sha, body: pushBody(b, sha, "bench")}.request()
	}
	b.SetParallelism(4) // 4 per CPU: webhooks arrive concurrently
	b.ReportAllocs()
	b.ResetTimer()
	self, brk := testenv.StartCPU(b, 0), testenv.CPUClock{}
	if broker {
		brk = testenv.StartBrokerCPU(b)
	}
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			req := reqs[seq.Add(1)-1]
			rec := httptest.NewRecorder()
			t0 := time.Now()
			h.ServeHTTP(rec, req)
			mine = append(mine, time.Since(t0))
			if rec.Code != 202 {
				b.Errorf("webhook: %d %s", rec.Code, rec.Body)
				return
			}
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	if flush != nil {
		flush()
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	self.ReportPerOp(b, len(lat), "cpu-us/webhook")
	if broker {
		brk.ReportPerOp(b, len(lat), "broker-cpu-us/webhook")
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "webhooks/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
