package outbox_test

import (
	"bytes"
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
	if n := len(segments(t, dir)); n != 1 {
		t.Errorf("%d segments, want 1", n)
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

// TestDamagedFrameKeptAside: a frame damaged in the middle of a segment is
// kept in dir/corrupt and the messages around it are delivered in order;
// temporary files of interrupted writes are removed.
func TestDamagedFrameKeptAside(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	down := &recorder{fail: func(int) error { return errors.New("down") }}
	first := openOutbox(t, dir, down.send)
	enqueue(t, first, "a", "b", "c")
	first.Close()
	seg := segments(t, dir)[0]
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte(`{"id":"b"}`))
	data[i+2] = 'X' // b's frame fails its CRC
	writeFile(t, seg, data)
	writeFile(t, filepath.Join(dir, ".tmp-123"), []byte("half a write"))

	r := &recorder{}
	second := openOutbox(t, dir, r.send)
	flush(t, second)
	expectIDs(t, r, []string{"a", "c"})
	if kept, _ := filepath.Glob(filepath.Join(dir, "corrupt", "*.frame")); len(kept) != 1 {
		t.Errorf("damaged frame kept aside as %v, want one file", kept)
	}
	if _, err := os.Stat(filepath.Join(dir, ".tmp-123")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover temporary file not removed: %v", err)
	}
}

// TestTornTailIgnored: a write cut short at the end of a segment (a crash
// in the middle of a batch, never acknowledged) is ignored; the messages
// before it are delivered, then those enqueued after the restart.
func TestTornTailIgnored(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	down := &recorder{fail: func(int) error { return errors.New("down") }}
	first := openOutbox(t, dir, down.send)
	enqueue(t, first, "a", "b", "torn")
	first.Close()
	seg := segments(t, dir)[0]
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, seg, data[:bytes.Index(data, []byte(`{"id":"torn"}`))+3])

	r := &recorder{}
	second := openOutbox(t, dir, r.send)
	enqueue(t, second, "after")
	flush(t, second)
	expectIDs(t, r, []string{"a", "b", "after"})
}

// TestLegacyFilesMigrated: batch files of the first format, left by an
// earlier runnerd, are delivered in order before anything enqueued after
// the upgrade; an undecodable one is moved to dir/corrupt.
func TestLegacyFilesMigrated(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rec := func(id string) string {
		return `{"v":1,"key":"event.job","id":"` + id + `","body":"e30="}`
	}
	writeFile(t, filepath.Join(dir, "00000000000000000001.msg"), []byte(rec("a")+"\n"+rec("b")))
	writeFile(t, filepath.Join(dir, "00000000000000000003.msg"), []byte(`{"v":1,"key":"event.job","bo`))
	writeFile(t, filepath.Join(dir, "00000000000000000004.msg"), []byte(rec("c")))

	r := &recorder{}
	o := openOutbox(t, dir, r.send)
	enqueue(t, o, "new")
	flush(t, o)
	expectIDs(t, r, []string{"a", "b", "c", "new"})
	if _, err := os.Stat(filepath.Join(dir, "corrupt", "00000000000000000003.msg")); err != nil {
		t.Errorf("corrupt batch file not moved aside: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.msg")); len(left) != 0 {
		t.Errorf("batch files left after the migration: %v", left)
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
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
