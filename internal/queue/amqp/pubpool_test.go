package amqp

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue"
)

// Concurrent publishes go out on every publishing channel, each confirmed
// and each unroutable one matched to its own Publish, whichever channel the
// broker returned it on.
func TestPublishChannels(t *testing.T) {
	cfg := testConfig(t)
	cfg.PublishChannels = 3
	q := newQueue(t, cfg)
	s := q.current()
	if len(s.pubs) != 3 {
		t.Fatalf("%d publishing channels, want 3", len(s.pubs))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 60)
	for i := range errs {
		key := ci.RouteJob
		if i%5 == 0 {
			key = "nobody.listens"
		}
		wg.Go(func() { errs[i] = q.Publish(ctx, ci.Message{Key: key, ID: "m", Body: []byte(`{}`)}) })
	}
	wg.Wait()
	for i, err := range errs {
		unroutable := i%5 == 0
		if unroutable != errors.Is(err, queue.ErrUnroutable) || !unroutable && err != nil {
			t.Errorf("publish %d (unroutable %v): %v", i, unroutable, err)
		}
	}
	if q.current() != s {
		t.Fatal("the session changed")
	}
	for i, p := range s.pubs {
		p.mu.Lock()
		if len(p.returned) != 0 {
			t.Errorf("channel %d kept %d returns nobody took", i, len(p.returned))
		}
		p.mu.Unlock()
	}
}

// When one publishing channel closes (the broker closes a channel on a
// channel-level error), the session is dead and the next Publish dials a
// new one.
func TestPublishChannelClosed(t *testing.T) {
	q := newQueue(t, testConfig(t))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	old := q.current()
	old.pubs[len(old.pubs)-1].ch.Close()
	for deadline := time.Now().Add(5 * time.Second); old.alive(); {
		if time.Now().After(deadline) {
			t.Fatal("session alive after a publishing channel closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for range 2 * len(old.pubs) { // every channel of the new session
		if err := q.Publish(ctx, ci.Message{Key: ci.RouteJob, ID: "after", Body: []byte(`{}`)}); err != nil {
			t.Fatalf("publish after the channel closed: %v", err)
		}
	}
	if q.current() == old {
		t.Error("Publish used the dead session")
	}
}
