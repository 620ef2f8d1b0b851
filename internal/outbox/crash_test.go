package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/outbox"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

func TestMain(m *testing.M) {
	testenv.CrashChild(map[string]testenv.CrashWork{"outbox-burst": enqueueBurst})
	os.Exit(m.Run())
}

// enqueueBurst is the crash test's child: 16 writers enqueue reports to an
// outbox whose broker is down, acknowledging each ID as its Enqueue
// returns, until the process is killed.
func enqueueBurst(ctx context.Context, dir string, ack func(string)) error {
	down := func(context.Context, ci.Message) error { return errors.New("broker down") }
	o, err := outbox.Open(ctx, dir, down, fast, nil)
	if err != nil {
		return err
	}
	return testenv.Burst(16, func(w, i int) error {
		id := fmt.Sprintf("w%d-%d", w, i)
		if err := o.Enqueue(ctx, msg(id)); err != nil {
			return err
		}
		ack(id)
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
