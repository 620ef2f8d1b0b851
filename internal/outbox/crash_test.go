package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/outbox"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

func TestMain(m *testing.M) {
	testenv.CrashChild(map[string]testenv.CrashWork{"outbox-burst": enqueueBurst, "outbox-deliver": deliverBurst})
	os.Exit(m.Run())
}

// enqueueBurst is the crash test's child: 16 writers enqueue reports to an
// outbox whose broker is down, acknowledging each ID as its Enqueue
// returns, until the process is killed.
func enqueueBurst(ctx context.Context, dir string, ack func(string)) error {
	down := func(context.Context, ci.Message) error { return errors.New("broker down") }
	return burst(ctx, dir, down, ack)
}

// burst has 16 writers enqueue reports to an outbox in dir that delivers
// with send, calling enqueued with each ID once its Enqueue returned, until
// the process is killed.
func burst(ctx context.Context, dir string, send func(context.Context, ci.Message) error, enqueued func(string)) error {
	o, err := outbox.Open(ctx, dir, send, fast, nil)
	if err != nil {
		return err
	}
	return testenv.Burst(16, func(w, i int) error {
		id := fmt.Sprintf("w%d-%d", w, i)
		if err := o.Enqueue(ctx, msg(id)); err != nil {
			return err
		}
		enqueued(id)
		return nil
	})
}

// Issue 15: no report whose Enqueue returned is lost when runnerd dies
// (kill -9) in the middle of a burst of batched enqueues: after a restart
// every one of them is delivered.
func TestCrashKeepsAcknowledgedReports(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	acks := testenv.CrashAfter(t, "outbox-burst", dir, 1000)
	segs := len(segments(t, dir))
	r := &recorder{}
	flush(t, openOutbox(t, dir, r.send))
	delivered := map[string]bool{}
	for _, id := range r.ids() {
		delivered[id] = true
	}
	for _, id := range acks {
		if !delivered[id] {
			t.Fatalf("report %s was acknowledged but not delivered after the restart (%d acknowledged, %d delivered)",
				id, len(acks), len(delivered))
		}
	}
	t.Logf("%d acknowledged reports, all delivered after kill -9 (%d segments for %d delivered)",
		len(acks), segs, len(delivered))
}

// deliverBurst is the child of the delivery crash test: 16 writers enqueue
// reports ("enq ID" once Enqueue returned) to an outbox whose broker takes
// them ("sent ID" before send returns nil), until the process is killed.
func deliverBurst(ctx context.Context, dir string, ack func(string)) error {
	up := func(_ context.Context, m ci.Message) error { ack("sent " + m.ID); return nil }
	return burst(ctx, dir, up, func(id string) { ack("enq " + id) })
}

// A kill -9 while reports are enqueued and delivered loses none: every
// acknowledged report was sent before the kill or is sent after the
// restart, and only the deliveries since acked was last written (at most
// 64, and the one in flight) are sent twice.
func TestCrashWhileDeliveringLosesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	acks := testenv.CrashAfter(t, "outbox-deliver", dir, 3000)
	sent, enqueued := map[string]bool{}, []string{}
	for _, a := range acks {
		if id, ok := strings.CutPrefix(a, "sent "); ok {
			sent[id] = true
		} else if id, ok := strings.CutPrefix(a, "enq "); ok {
			enqueued = append(enqueued, id)
		}
	}
	r := &recorder{}
	flush(t, openOutbox(t, dir, r.send))
	again, twice := map[string]bool{}, 0
	for _, id := range r.ids() {
		again[id] = true
		if sent[id] {
			twice++
		}
	}
	for _, id := range enqueued {
		if !sent[id] && !again[id] {
			t.Fatalf("report %s was acknowledged but never delivered (%d acknowledged, %d sent before the kill, %d after)",
				id, len(enqueued), len(sent), len(again))
		}
	}
	if twice > 64+1 {
		t.Errorf("%d reports sent again after the restart, want at most 65", twice)
	}
	t.Logf("%d acknowledged, %d sent before kill -9, %d after the restart (%d of them again)",
		len(enqueued), len(sent), len(again), twice)
}
