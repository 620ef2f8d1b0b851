package webhook

import (
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/store/sqlite"
)

// TestConcurrentDeliveriesOfOneEvent sends one push 1,000 times at once, as a
// redelivery storm would. GitHub keeps the X-GitHub-Delivery GUID of an event
// across its redeliveries, so every copy carries the same one. Exactly one job
// is created and one message published; every other answer is a duplicate.
// (internal/intake tests concurrent deliveries with distinct IDs.)
func TestConcurrentDeliveriesOfOneEvent(t *testing.T) {
	t.Parallel()
	const n = 1000
	r := newRig(t, sqlite.Memory, nil)
	body := pushBody(t, sha1, "storm")
	d := delivery{event: "push", id: "3f8e2a10-cf4b-11ef-8d3a-1b2c3d4e5f60", body: body}
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			rec := httptest.NewRecorder()
			r.h.ServeHTTP(rec, d.request())
			mu.Lock()
			counts[rec.Code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if counts[202] != 1 || counts[200] != n-1 {
		t.Fatalf("statuses %v, want one 202 and %d 200", counts, n-1)
	}
	jobs := r.jobs(t)
	if len(jobs) != 1 {
		t.Fatalf("%d jobs, want 1", len(jobs))
	}
	if len(jobs[0].Deliveries) != 1 {
		t.Fatalf("deliveries %v, want the one GUID", jobs[0].Deliveries)
	}
	if m := r.drain(t); len(m) != 1 || m[0].ID != ci.JobID("acme/app", sha1, ci.EventPush, 0) {
		t.Fatalf("%d messages, want 1", len(m))
	}
}
