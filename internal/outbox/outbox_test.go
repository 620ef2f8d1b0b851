package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/outbox"
)

// fast retries within milliseconds so that failure tests stay quick.
var fast = outbox.Options{InitialBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}

// recorder is a Send that records what it was given and fails on demand.
type recorder struct {
	mu    sync.Mutex
	got   []ci.Message
	calls int
	fail  func(call int) error // nil: never fail
	block chan struct{}        // when set, each call waits for it (or ctx)
}

func (r *recorder) send(ctx context.Context, m ci.Message) error {
	if r.block != nil {
		select {
		case <-r.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.fail != nil {
		if err := r.fail(r.calls); err != nil {
			return err
		}
	}
	r.got = append(r.got, m)
	return nil
}

func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for _, m := range r.got {
		ids = append(ids, m.ID)
	}
	return ids
}

func openOutbox(t *testing.T, dir string, send outbox.Send) *outbox.Outbox {
	t.Helper()
	o, err := outbox.Open(context.Background(), dir, send, fast, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

func msg(id string) ci.Message {
	return ci.Message{Key: "event.job", ID: id, Body: []byte(`{"id":"` + id + `"}`), Headers: map[string]string{"runner": "r1"}}
}

func ids(prefix string, n int) []string {
	var s []string
	for i := range n {
		s = append(s, fmt.Sprintf("%s-%03d", prefix, i))
	}
	return s
}

func enqueue(t *testing.T, o *outbox.Outbox, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := o.Enqueue(context.Background(), msg(id)); err != nil {
			t.Fatalf("Enqueue(%s): %v", id, err)
		}
	}
}

func flush(t *testing.T, o *outbox.Outbox) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := o.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v (pending %d)", err, o.Pending())
	}
}

func expectIDs(t *testing.T, r *recorder, want []string) {
	t.Helper()
	if got := r.ids(); !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
}

// segments lists the segment files in dir.
func segments(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestDeliversInOrder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := &recorder{}
	o := openOutbox(t, dir, r.send)
	enqueue(t, o, ids("m", 30)...)
	flush(t, o)
	expectIDs(t, r, ids("m", 30))
	if got := r.got[0]; got.Key != "event.job" || string(got.Body) != `{"id":"m-000"}` || got.Headers["runner"] != "r1" {
		t.Errorf("message changed on the way: %+v", got)
	}
	if o.Pending() != 0 {
		t.Errorf("after Flush: pending %d", o.Pending())
	}
	o.Close()
	again := &recorder{}
	flush(t, openOutbox(t, dir, again.send))
	expectIDs(t, again, nil) // acked: nothing delivered twice
	if segs := segments(t, dir); len(segs) != 0 {
		t.Errorf("delivered segments left after a restart: %v", segs)
	}
}

// TestOrderUnderFailures: the sender fails for a while (every other call at
// first, then several in a row) and recovers; every message arrives once, in
// order, and nothing overtakes a failing message.
func TestOrderUnderFailures(t *testing.T) {
	t.Parallel()
	r := &recorder{fail: func(call int) error {
		if call < 10 && call%2 == 1 || call >= 15 && call < 25 {
			return errors.New("broker unavailable")
		}
		return nil
	}}
	o := openOutbox(t, t.TempDir(), r.send)
	enqueue(t, o, ids("a", 10)...)
	enqueue(t, o, ids("b", 10)...)
	flush(t, o)
	expectIDs(t, r, append(ids("a", 10), ids("b", 10)...))
	if r.calls != 20+15 {
		t.Errorf("%d send calls, want 35 (20 messages, 15 failures)", r.calls)
	}
}

// TestSurvivesRestart: messages pending at Close are delivered, in order, by
// the next Open of the directory, before the ones enqueued after it.
func TestSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	down := &recorder{fail: func(int) error { return errors.New("down") }}
	first, err := outbox.Open(context.Background(), dir, down.send, fast, nil)
	if err != nil {
		t.Fatal(err)
	}
	enqueue(t, first, ids("old", 8)...)
	if first.Pending() != 8 {
		t.Errorf("pending %d, want 8", first.Pending())
	}
	first.Close()
	if err := first.Enqueue(context.Background(), msg("late")); !errors.Is(err, ci.ErrClosed) {
		t.Errorf("Enqueue after Close = %v, want ErrClosed", err)
	}
	if n := len(segments(t, dir)); n != 1 {
		t.Fatalf("%d segments after Close, want the 8 messages in one", n)
	}

	r := &recorder{}
	second := openOutbox(t, dir, r.send)
	enqueue(t, second, ids("new", 4)...)
	flush(t, second)
	expectIDs(t, r, append(ids("old", 8), ids("new", 4)...))
}

func TestConcurrentEnqueue(t *testing.T) {
	t.Parallel()
	r := &recorder{}
	o := openOutbox(t, t.TempDir(), r.send)
	const writers, each = 8, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for _, id := range ids(fmt.Sprint("w", w), each) {
				if err := o.Enqueue(context.Background(), msg(id)); err != nil {
					t.Errorf("Enqueue(%s): %v", id, err)
				}
			}
		})
	}
	wg.Wait()
	flush(t, o)
	got := r.ids()
	if len(got) != writers*each {
		t.Fatalf("%d delivered, want %d", len(got), writers*each)
	}
	for w := range writers { // each writer's messages arrive in its order, once
		var mine []string
		for _, id := range got {
			if strings.HasPrefix(id, fmt.Sprint("w", w, "-")) {
				mine = append(mine, id)
			}
		}
		if want := ids(fmt.Sprint("w", w), each); !slices.Equal(mine, want) {
			t.Errorf("writer %d: delivered %v, want %v", w, mine, want)
		}
	}
}
