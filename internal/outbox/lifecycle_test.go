package outbox_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/outbox"
)

func TestFlush(t *testing.T) {
	t.Parallel()
	r := &recorder{block: make(chan struct{})}
	o := openOutbox(t, t.TempDir(), r.send)
	flush(t, o) // nothing pending: returns at once
	enqueue(t, o, "a", "b")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := o.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Flush with a stuck sender = %v, want DeadlineExceeded", err)
	}
	if o.Pending() != 2 {
		t.Errorf("pending %d, want 2", o.Pending())
	}
	close(r.block)
	flush(t, o)
	expectIDs(t, r, []string{"a", "b"})
}

// TestCloseKeepsPending: Close interrupts a send in flight and returns; the
// message stays on disk, and Flush reports that delivery stopped.
func TestCloseKeepsPending(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := &recorder{block: make(chan struct{})} // never unblocked
	o := openOutbox(t, dir, r.send)
	enqueue(t, o, "stuck")
	closed := make(chan struct{})
	go func() { o.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return while a send was in flight")
	}
	if err := o.Flush(context.Background()); !errors.Is(err, ci.ErrClosed) {
		t.Errorf("Flush after Close = %v, want ErrClosed", err)
	}
	if n := len(messageFiles(t, dir)); n != 1 {
		t.Errorf("%d message files, want 1", n)
	}
	if err := o.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestOpenContextEnds: when Open's context ends, delivery stops and Flush
// says so instead of waiting for its own deadline.
func TestOpenContextEnds(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	down := &recorder{fail: func(int) error { return errors.New("down") }}
	o, err := outbox.Open(ctx, t.TempDir(), down.send, fast, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	enqueue(t, o, "a")
	cancel()
	if err := o.Flush(context.Background()); !errors.Is(err, ci.ErrClosed) {
		t.Errorf("Flush = %v, want ErrClosed", err)
	}
}

// TestCorruptFileMovedAside: an undecodable file goes to dir/corrupt and the
// messages around it are delivered in order.
func TestCorruptFileMovedAside(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	down := &recorder{fail: func(int) error { return errors.New("down") }}
	first := openOutbox(t, dir, down.send)
	enqueue(t, first, "a", "b", "c")
	first.Close()
	files := messageFiles(t, dir)
	if err := os.WriteFile(files[1], []byte(`{"v":1,"key":"event.job","bo`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".tmp-123"), []byte("half a write"), 0o600); err != nil {
		t.Fatal(err)
	}

	r := &recorder{}
	second := openOutbox(t, dir, r.send)
	flush(t, second)
	expectIDs(t, r, []string{"a", "c"})
	if _, err := os.Stat(filepath.Join(dir, "corrupt", filepath.Base(files[1]))); err != nil {
		t.Errorf("corrupt file not moved aside: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".tmp-123")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover temporary file not removed: %v", err)
	}
}

func TestSecondOpenRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := &recorder{}
	first := openOutbox(t, dir, r.send)
	if o, err := outbox.Open(context.Background(), dir, r.send, fast, nil); err == nil {
		o.Close()
		t.Fatal("a second Open of the same directory succeeded")
	}
	first.Close()
	openOutbox(t, dir, r.send) // free again once closed
}

func TestEnqueueCancelled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := openOutbox(t, dir, (&recorder{}).send)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := o.Enqueue(ctx, msg("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Enqueue with a cancelled context = %v", err)
	}
	if o.Pending() != 0 {
		t.Errorf("pending %d after a refused Enqueue", o.Pending())
	}
}
