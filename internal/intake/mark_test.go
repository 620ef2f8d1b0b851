package intake

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue/queuetest"
)

// plainStore hides the SQLite store's MarkPublished, as a store without it
// (DynamoDB) is seen.
type plainStore struct{ ci.Store }

// Without a PublishMarker, Accept and Sweep mark through UpdateJob, with the
// same outcome.
func TestMarkWithoutMarker(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.in.Store = plainStore{r.store}
	if _, ok := r.in.Store.(PublishMarker); ok {
		t.Fatal("plainStore is a PublishMarker")
	}
	out := r.accept(t, "d-1", sample("abc001"))
	if got := r.get(t, out.JobID); !out.Published || !got.Published || got.Version != 2 {
		t.Fatalf("outcome %+v, stored %+v: want published at version 2", out, got)
	}
	r.queue.Fail.Store(true)
	swept := r.accept(t, "d-2", sample("abc002"))
	r.queue.Fail.Store(false)
	r.clock.Add(time.Hour)
	if n := r.sweep(t, time.Minute); n != 1 || !r.get(t, swept.JobID).Published {
		t.Fatalf("swept %d, stored %+v: want 1, published", n, r.get(t, swept.JobID))
	}
}

// A mark of a job that was requeued meanwhile (another attempt) leaves it
// unpublished, with and without the store's marker: that attempt's message
// is not the one confirmed.
func TestMarkSkipsOtherAttempt(t *testing.T) {
	t.Parallel()
	for _, plain := range []bool{false, true} {
		t.Run(fmt.Sprintf("plain=%v", plain), func(t *testing.T) {
			r := newRig(t)
			if plain {
				r.in.Store = plainStore{r.store}
			}
			r.queue.Fail.Store(true)
			out := r.accept(t, "", sample("abc003"))
			first := r.get(t, out.JobID)
			requeued := first
			requeued.Attempt = 2
			if _, err := r.store.UpdateJob(t.Context(), requeued); err != nil {
				t.Fatal(err)
			}
			if err := r.in.markPublished(t.Context(), first); err != nil {
				t.Fatalf("mark: %v", err)
			}
			if got := r.get(t, out.JobID); got.Published || got.Attempt != 2 {
				t.Fatalf("stored %+v, want attempt 2 unpublished", got)
			}
		})
	}
}

// failAfter publishes n messages, then fails every publish.
type failAfter struct {
	ci.Queue
	n atomic.Int64
}

func (q *failAfter) Publish(ctx context.Context, m ci.Message) error {
	if q.n.Add(-1) < 0 {
		return queuetest.ErrBrokerDown
	}
	return q.Queue.Publish(ctx, m)
}

// A sweep that loses the broker part-way marks what it published before the
// failure, returns the failure, and leaves the rest to the next sweep.
func TestSweepMarksWhatItPublished(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.queue.Fail.Store(true)
	for i := range 5 {
		r.accept(t, "", sample(fmt.Sprintf("abc1%02d", i)))
	}
	r.queue.Fail.Store(false)
	r.clock.Add(time.Hour)
	q := &failAfter{Queue: r.queue}
	q.n.Store(3)
	r.in.Queue = q
	n, err := r.in.Sweep(t.Context(), time.Minute)
	if n != 3 || !errors.Is(err, queuetest.ErrBrokerDown) {
		t.Fatalf("sweep: %d, %v; want 3 and the broker's error", n, err)
	}
	left, err := r.store.ListUnpublished(t.Context(), r.clock.Now(), 10)
	if err != nil || len(left) != 2 {
		t.Fatalf("unpublished after the sweep: %d (%v), want 2", len(left), err)
	}
	r.in.Queue = r.queue
	if n := r.sweep(t, time.Minute); n != 2 {
		t.Fatalf("second sweep published %d, want 2", n)
	}
	if m := r.drain(t); len(m) != 5 {
		t.Fatalf("got %s, want 5", msgs(len(m)))
	}
}

// failingMarker is a store whose MarkPublished always fails.
type failingMarker struct{ ci.Store }

func (failingMarker) MarkPublished(context.Context, []ci.JobMessage) error {
	return errors.New("disk on fire")
}

// With MarkLater, concurrent Accepts return Published as soon as the queue
// confirmed, and after Flush every job is stored published; a background
// mark that fails leaves its job to Sweep, which publishes it again.
func TestMarkLater(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.in.MarkLater = true
	const n = 40
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			out := r.accept(t, "", sample(fmt.Sprintf("abc2%02d", i)))
			if !out.Published || out.Problem != nil {
				t.Errorf("outcome %+v; want published, no problem", out)
			}
			ids[i] = out.JobID
		})
	}
	wg.Wait()
	r.in.Flush()
	for _, id := range ids {
		if j := r.get(t, id); !j.Published || j.Version != 2 {
			t.Errorf("job %s after Flush: published %t, version %d; want true, 2", id, j.Published, j.Version)
		}
	}
	r.drain(t)

	r.in.Store = failingMarker{r.store}
	lost := r.accept(t, "", sample("abc299"))
	r.in.Flush()
	if !lost.Published || r.get(t, lost.JobID).Published {
		t.Fatalf("outcome %+v, stored published %t: want published, stored unpublished", lost, r.get(t, lost.JobID).Published)
	}
	r.in.Store = r.store
	r.clock.Add(time.Hour)
	if n := r.sweep(t, time.Minute); n != 1 || !r.get(t, lost.JobID).Published {
		t.Fatalf("swept %d; want the job whose mark was lost", n)
	}
}
