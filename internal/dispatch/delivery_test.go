package dispatch

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue"
)

// barrierStore holds the first n GetJob calls until all n have arrived, so
// that n concurrent handlers all read the job before any of them writes.
type barrierStore struct {
	ci.Store
	mu      sync.Mutex
	n       int
	arrived chan struct{}
}

func (s *barrierStore) GetJob(ctx context.Context, id string) (ci.Job, error) {
	s.mu.Lock()
	wait := s.n > 0
	if wait {
		if s.n--; s.n == 0 {
			close(s.arrived)
		}
	}
	s.mu.Unlock()
	if wait {
		<-s.arrived
	}
	return s.Store.GetJob(ctx, id)
}

// The same message handled by four consumers at once, and a whole batch
// delivered again: every job runs once.
func TestHandleJobDuplicates(t *testing.T) {
	t.Parallel()
	const consumers = 4
	g := newRig(t, Config{}, func(d *Deps) {
		d.Store = &barrierStore{Store: d.Store, n: consumers, arrived: make(chan struct{})}
	})
	a := g.runner(t, "a", 0, 50)
	b := g.runner(t, "b", 0, 50)
	var batch []ci.Job
	for i := range 3 {
		batch = append(batch, g.job(t, fmt.Sprintf("ccc%d", i)))
	}
	var wg sync.WaitGroup
	for range consumers { // a duplicate publish
		wg.Go(func() {
			if err := g.d.HandleJob(t.Context(), delivery(batch[0])); err != nil {
				t.Errorf("HandleJob: %v", err)
			}
		})
	}
	wg.Wait()
	for _, j := range batch[1:] {
		g.handle(t, j)
	}
	for _, j := range batch { // the batch again, as the event source redelivers it
		d := delivery(j)
		d.Redelivered, d.Attempt = true, 2
		if err := g.d.HandleJob(t.Context(), d); err != nil {
			t.Fatal(err)
		}
	}
	ids := jobIDs(append(a.ran(), b.ran()...))
	slices.Sort(ids)
	want := []string{batch[0].ID + "#1", batch[1].ID + "#1", batch[2].ID + "#1"}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("runs %v; want each of the 3 jobs once: %v", ids, want)
	}
}

// Through the queue: a message that is not a job message, and the message of
// a job that fails to dispatch on every delivery, end in the dead-letter
// queue; the job ends in error with the reason.
func TestHandleJobDeadLetters(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, nil)
	g.queue.failDelayed = true // no runner, and the wait queue refuses the retry
	j := g.job(t, "fff1")
	ctx := t.Context()
	if err := g.queue.Publish(ctx, ci.Message{Key: ci.RouteJob, ID: "bad", Body: []byte("not json")}); err != nil {
		t.Fatal(err)
	}
	if err := g.queue.Publish(ctx, ci.NewJobMessage(j)); err != nil {
		t.Fatal(err)
	}
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- g.queue.Consume(cctx, ci.QueueJobs, 1, g.d.HandleJob) }()
	dead := collect(t, g, queue.QueueJobsDead, 2)
	stop()
	<-done
	if !slices.Contains(dead, "bad") || !slices.Contains(dead, j.ID) {
		t.Fatalf("dead letters %v; want bad and %s", dead, j.ID)
	}
	got := g.get(t, j.ID)
	want := fmt.Sprintf("dispatch failed %d times: ", g.limit+1)
	if got.Status != ci.StatusError || !strings.HasPrefix(got.Error, want) || !strings.Contains(got.Error, "wait queue unavailable") {
		t.Fatalf("job %s %q; want error %q...", got.Status, got.Error, want)
	}
	if st := g.status.last(t, j.ID); st.Status != ci.StatusError {
		t.Errorf("status reported %s, want error", st.Status)
	}
}

// collect returns the IDs of the first n messages of queue name.
func collect(t *testing.T, g *rig, name string, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var mu sync.Mutex
	var ids []string
	g.queue.Consume(ctx, name, 1, func(_ context.Context, d ci.Delivery) error {
		mu.Lock()
		defer mu.Unlock()
		if ids = append(ids, d.ID); len(ids) == n {
			cancel()
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if len(ids) < n {
		t.Fatalf("%s: got %v, want %d messages", name, ids, n)
	}
	return ids
}
