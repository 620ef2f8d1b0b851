package outbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// Enqueues made while a batch is being written go to disk together, as one
// file written and synced once, each returning once it is on disk; they are
// delivered in the order they joined the batch.
func TestConcurrentEnqueuesShareABatch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var mu sync.Mutex
	var sent []string
	gate := make(chan struct{})
	send := func(ctx context.Context, m ci.Message) error {
		<-gate
		mu.Lock()
		defer mu.Unlock()
		sent = append(sent, m.ID)
		return nil
	}
	o, err := Open(context.Background(), dir, send, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	o.enqMu.Lock()
	o.writing = true // as if another Enqueue were writing a batch
	o.enqMu.Unlock()
	const n = 12
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = o.Enqueue(context.Background(), ci.Message{Key: "k", ID: fmt.Sprint(i)}) })
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		o.enqMu.Lock()
		queued := len(o.waiting)
		o.enqMu.Unlock()
		if queued == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d Enqueues waiting, want %d", queued, n)
		}
	}
	o.writeBatch() // the writer in flight ends: the waiting ones go as one batch
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Enqueue %d: %v", i, err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(files) != 1 {
		t.Fatalf("%d segments, want one", len(files))
	}
	msgs := segmentMessages(t, dir, 1)
	if len(msgs) != n {
		t.Fatalf("segment: %d messages; want %d", len(msgs), n)
	}
	if o.Pending() != n || o.active.size != int64(len(o.buf)) {
		t.Fatalf("pending %d, segment %d bytes; want %d messages written as one batch of %d bytes", o.Pending(), o.active.size, n, len(o.buf))
	}
	close(gate)
	if err := o.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		if sent[i] != m.ID {
			t.Fatalf("delivered %v, want the batch's order %v", sent, msgs)
		}
	}
}

// segmentMessages decodes the messages of segment seq.
func segmentMessages(t *testing.T, dir string, seq uint64) []ci.Message {
	t.Helper()
	spans, torn, err := readSegment(dir, seq)
	if err != nil || torn {
		t.Fatalf("read segment: %v (torn %v)", err, torn)
	}
	data, err := os.ReadFile(filepath.Join(dir, segmentName(seq)))
	if err != nil {
		t.Fatal(err)
	}
	var msgs []ci.Message
	for _, sp := range spans {
		m, err := decodeFrame(data[sp.off : sp.off+int64(sp.n)])
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// Queue takes a message's place at once: messages queued one after the
// other are delivered in that order, whatever the order of their waits.
func TestQueueOrdersBeforeTheWait(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var sent []string
	o, err := Open(context.Background(), t.TempDir(), func(_ context.Context, m ci.Message) error {
		mu.Lock()
		defer mu.Unlock()
		sent = append(sent, m.ID)
		return nil
	}, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	var waits []func() error
	for i := range 5 {
		waits = append(waits, o.Queue(context.Background(), ci.Message{Key: "k", ID: fmt.Sprint(i)}))
	}
	var wg sync.WaitGroup
	for i := len(waits) - 1; i >= 0; i-- {
		wg.Go(func() {
			if err := waits[i](); err != nil {
				t.Errorf("wait %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if err := o.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(sent) != "[0 1 2 3 4]" {
		t.Errorf("delivered %v, want [0 1 2 3 4]", sent)
	}
}
