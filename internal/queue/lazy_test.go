package queue_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue"
	"github.com/narwhal-ci/narwhal/internal/queue/memq"
)

// TestLazyDialsOnceOnFirstUse: no connect before the first call, one connect
// for many concurrent calls, a failed connect tried again, and ErrClosed
// after Close.
func TestLazyDialsOnceOnFirstUse(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	dials, fail := 0, true
	inner := memq.New(memq.Config{})
	q := queue.NewLazy(func(context.Context) (ci.Queue, error) {
		mu.Lock()
		defer mu.Unlock()
		dials++
		if fail {
			fail = false
			return nil, errors.New("broker down")
		}
		return inner, nil
	})
	ctx := context.Background()
	if err := q.Publish(ctx, ci.Message{Key: "job", ID: "a", Body: []byte("{}")}); err == nil {
		t.Fatal("publish with the broker down: no error")
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := q.Publish(ctx, ci.Message{Key: "job", ID: string(rune('b' + i)), Body: []byte("{}")}); err != nil {
				t.Errorf("publish: %v", err)
			}
		}()
	}
	wg.Wait()
	if dials != 2 {
		t.Errorf("%d dials, want 2 (one failed, then one for all)", dials)
	}
	q.Close()
	if err := q.Publish(ctx, ci.Message{Key: "job", ID: "z"}); !errors.Is(err, ci.ErrClosed) {
		t.Errorf("publish after Close: %v, want ErrClosed", err)
	}
}
