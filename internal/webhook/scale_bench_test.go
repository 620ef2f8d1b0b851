package webhook

import (
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/queue/memq"
)

// BenchmarkIntakeSenders is BenchmarkIntakeSQLiteMemq with a fixed number
// of concurrent senders, 1, 8 and 64 (issue 15's scale curve): webhooks/s
// and the p50/p99 of one webhook. With a single writer beneath, latency may
// grow with the senders but no faster.
func BenchmarkIntakeSenders(b *testing.B) {
	for _, n := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("senders=%d", n), func(b *testing.B) {
			r := newRigOn(b, filepath.Join(b.TempDir(), "narwhal.db"), nil, memq.New(memq.Config{}))
			r.in.MarkLater = true
			sendConcurrently(b, r.h, n, r.in.Flush)
		})
	}
}

// sendConcurrently sends b.N distinct signed pushes through h from senders
// goroutines and reports throughput (up to flush's return) and latency
// percentiles.
func sendConcurrently(b *testing.B, h *Handler, senders int, flush func()) {
	run := benchRun.Add(1)
	var next atomic.Int64
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range senders {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < b.N; i = int(next.Add(1)) - 1 {
				sha := fmt.Sprintf("%08x%032x", run, i)
				req := delivery{event: "push", id: sha, body: pushBody(b, sha, "bench")}.request()
				rec := httptest.NewRecorder()
				t0 := time.Now()
				h.ServeHTTP(rec, req)
				lat[i] = time.Since(t0)
				if rec.Code != 202 {
					b.Errorf("webhook: %d %s", rec.Code, rec.Body)
					return
				}
			}
		})
	}
	wg.Wait()
	flush()
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "webhooks/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
