package outbox_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/outbox"
)

// BenchmarkEnqueueConcurrent is the outbox under runnerd's load: 64
// goroutines (concurrent jobs) enqueue reports of a typical size into an
// outbox on the real disk of the temp dir while it delivers them to a sink
// that takes everything. It reports enqueued reports/s; each Enqueue returns
// only once its report is synced, so the figure is bounded by how many
// reports share a sync.
//
//	go test -run '^$' -bench BenchmarkEnqueueConcurrent ./internal/outbox
func BenchmarkEnqueueConcurrent(b *testing.B) {
	var sent atomic.Int64
	o, err := outbox.Open(context.Background(), b.TempDir(), func(context.Context, ci.Message) error {
		sent.Add(1)
		return nil
	}, outbox.Options{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	body := []byte(`{"kind":"step","runner_id":"runner-1","job_id":"3f2a9c0e1b7d4a5c6e8f","attempt":1,"step":{"name":"test","status":"success","exit_code":0,` +
		`"started_at":"2026-05-01T10:00:03.1Z","finished_at":"2026-05-01T10:00:04.1Z"},"log":"` + strings.Repeat("x", 300) + `"}`)
	var n atomic.Int64
	b.SetParallelism(32) // 32 × GOMAXPROCS goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			m := ci.Message{Key: "event.step", ID: fmt.Sprint("runner-1-boot-", i), Body: body,
				Headers: map[string]string{"runner-id": "runner-1", "kind": "step", "seq": fmt.Sprint(i), "signature": strings.Repeat("s", 43)}}
			if err := o.Enqueue(context.Background(), m); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reports/s")
}
