package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/queue/queuetest"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue/memq"
	"github.com/narwhal-ci/narwhal/internal/store/sqlite"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock               { return &clock{t: time.Date(2025, 1, 10, 9, 0, 0, 0, time.UTC)} }
func quiet() *slog.Logger            { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
func sample(sha string) ci.Job {
	return ci.Job{Repo: "acme/app", SHA: sha, Ref: "refs/heads/main", Branch: "main", Event: ci.EventPush}
}
func jobID(j ci.Job) string { return ci.JobID(j.Repo, j.SHA, j.Event, j.PR) }
func msgs(n int) string     { return fmt.Sprintf("%d message(s)", n) }

type rig struct {
	in    *Intake
	store *sqlite.Store
	queue *queuetest.Flaky
	clock *clock
}

func newRig(t *testing.T) *rig {
	t.Helper()
	st, err := sqlite.Open(t.Context(), sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	q := &queuetest.Flaky{Queue: memq.New(memq.Config{})}
	t.Cleanup(func() { q.Close(); st.Close() })
	c := newClock()
	return &rig{in: &Intake{Store: st, Queue: q, Logger: quiet(), Now: c.Now}, store: st, queue: q, clock: c}
}

func (r *rig) accept(t *testing.T, delivery string, j ci.Job) Outcome {
	t.Helper()
	out, err := r.in.Accept(t.Context(), delivery, j)
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	return out
}

func (r *rig) get(t *testing.T, id string) ci.Job {
	t.Helper()
	j, err := r.store.GetJob(t.Context(), id)
	if err != nil {
		t.Fatalf("GetJob: %v", err)
	}
	return j
}

func (r *rig) sweep(t *testing.T, olderThan time.Duration) int {
	t.Helper()
	n, err := r.in.Sweep(t.Context(), olderThan)
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	return n
}

// drain consumes the job queue until it has been quiet for a moment and
// returns what it received.
func (r *rig) drain(t *testing.T) []ci.Message {
	t.Helper()
	return drainQueue(t, r.queue)
}

// drainQueue is rig.drain on q.
func drainQueue(t *testing.T, q ci.Queue) []ci.Message {
	t.Helper()
	var mu sync.Mutex
	var got []ci.Message
	ctx, cancel := context.WithCancel(t.Context())
	quietFor := time.AfterFunc(300*time.Millisecond, cancel)
	err := q.Consume(ctx, ci.QueueJobs, 16, func(_ context.Context, d ci.Delivery) error {
		mu.Lock()
		got = append(got, d.Message)
		mu.Unlock()
		quietFor.Reset(300 * time.Millisecond)
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("consume: %v", err)
	}
	return got
}

func TestAcceptCreatesPublishesAndMarks(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	job := sample("aaa111")
	out := r.accept(t, "d-1", job)
	if out != (Outcome{JobID: jobID(job), Published: true}) {
		t.Fatalf("outcome %+v", out)
	}
	got := r.get(t, out.JobID)
	if got.Status != ci.StatusQueued || got.Attempt != 1 || !got.Published ||
		!slices.Equal(got.Deliveries, []string{"d-1"}) || got.Repo != "acme/app" || got.SHA != "aaa111" {
		t.Fatalf("stored job %+v", got)
	}
	if !got.CreatedAt.Equal(r.clock.Now()) {
		t.Fatalf("created at %v, want %v", got.CreatedAt, r.clock.Now())
	}
	m := r.drain(t)
	if len(m) != 1 || m[0].Key != "job" || m[0].ID != out.JobID {
		t.Fatalf("got %s: %+v", msgs(len(m)), m)
	}
	var body ci.JobMessage
	if err := json.Unmarshal(m[0].Body, &body); err != nil || body != (ci.JobMessage{JobID: out.JobID, Attempt: 1}) {
		t.Fatalf("message body %s (%v)", m[0].Body, err)
	}
}

func TestAcceptDuplicateRecordsDelivery(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	job := sample("bbb222")
	r.accept(t, "d-1", job)
	for _, d := range []string{"d-2", "d-2", ""} {
		out := r.accept(t, d, job)
		if !out.Duplicate || out.Published || out.JobID != jobID(job) {
			t.Fatalf("redelivery %q: %+v", d, out)
		}
	}
	got := r.get(t, jobID(job))
	if !slices.Equal(got.Deliveries, []string{"d-1", "d-2"}) {
		t.Fatalf("deliveries %v, want [d-1 d-2]", got.Deliveries)
	}
	if m := r.drain(t); len(m) != 1 {
		t.Fatalf("got %s, want 1", msgs(len(m)))
	}
}

func TestAcceptConcurrentDeliveriesMakeOneJob(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	job := sample("ccc333")
	const n = 100
	var created atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			out, err := r.in.Accept(t.Context(), fmt.Sprintf("d-%03d", i), job)
			if err != nil {
				t.Error(err)
			}
			if !out.Duplicate {
				created.Add(1)
			}
		})
	}
	wg.Wait()
	if created.Load() != 1 {
		t.Fatalf("%d creates, want 1", created.Load())
	}
	got := r.get(t, jobID(job))
	if kept := len(got.Deliveries); kept != ci.MaxDeliveries || kept+got.DeliveriesDropped != n {
		t.Fatalf("%d deliveries kept and %d dropped, want %d kept of %d", kept, got.DeliveriesDropped, ci.MaxDeliveries, n)
	}
	if m := r.drain(t); len(m) != 1 {
		t.Fatalf("got %s, want 1", msgs(len(m)))
	}
}

func TestAcceptPublishFailureThenSweep(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.queue.Fail.Store(true)
	job := sample("ddd444")
	out := r.accept(t, "d-1", job)
	if out.JobID != jobID(job) || out.Published || out.Duplicate || out.Problem == nil {
		t.Fatalf("outcome %+v, want created and unpublished, with the problem", out)
	}
	if got := r.get(t, out.JobID); got.Published || got.Status != ci.StatusQueued {
		t.Fatalf("stored %+v, want queued and unpublished", got)
	}
	r.clock.Add(time.Second)
	if n, err := r.in.Sweep(t.Context(), 0); err == nil || n != 0 {
		t.Fatalf("sweep with the broker down: %d, %v; want 0 and an error", n, err)
	}
	r.queue.Fail.Store(false)
	if n := r.sweep(t, time.Minute); n != 0 {
		t.Fatalf("swept %d jobs younger than a minute", n)
	}
	r.clock.Add(2 * time.Minute)
	if n := r.sweep(t, time.Minute); n != 1 {
		t.Fatalf("swept %d, want 1", n)
	}
	if got := r.get(t, out.JobID); !got.Published {
		t.Fatal("swept job not marked published")
	}
	if n := r.sweep(t, time.Minute); n != 0 {
		t.Fatalf("second sweep published %d, want 0", n)
	}
	if m := r.drain(t); len(m) != 1 || m[0].ID != out.JobID {
		t.Fatalf("got %s, want the swept job's", msgs(len(m)))
	}
}

func TestSweepPagesThroughMany(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.queue.Fail.Store(true)
	const n = sweepBatch + 30
	for i := range n {
		r.accept(t, "", sample(fmt.Sprintf("sha%04d", i)))
	}
	r.queue.Fail.Store(false)
	r.clock.Add(time.Hour)
	if got := r.sweep(t, time.Minute); got != n {
		t.Fatalf("swept %d, want %d", got, n)
	}
	if m := r.drain(t); len(m) != n {
		t.Fatalf("got %s, want %d", msgs(len(m)), n)
	}
}

func TestAcceptStoreFailure(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.store.Close()
	if _, err := r.in.Accept(t.Context(), "d-1", sample("eee555")); err == nil {
		t.Fatal("Accept with a closed store succeeded")
	}
	if m := r.drain(t); len(m) != 0 {
		t.Fatalf("got %s for a job that was not stored", msgs(len(m)))
	}
}

// slowQueue blocks Publish until its context ends.
type slowQueue struct{ ci.Queue }

func (slowQueue) Publish(ctx context.Context, _ ci.Message) error {
	<-ctx.Done()
	return context.Cause(ctx)
}

func TestAcceptBoundsPublish(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.in.Queue, r.in.PublishTimeout = slowQueue{r.queue}, 50*time.Millisecond
	start := time.Now()
	out := r.accept(t, "d-1", sample("fff666"))
	if out.Published || out.Duplicate || !errors.Is(out.Problem, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("outcome %+v after %v, want unpublished after the publish timeout", out, time.Since(start))
	}
	if j := r.get(t, out.JobID); j.Published || j.Status != ci.StatusQueued {
		t.Fatalf("stored %+v", j)
	}
}
