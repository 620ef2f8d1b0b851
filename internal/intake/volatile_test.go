package intake

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue/memq"
	"github.com/narwhal-ci/narwhal/internal/store/sqlite"
)

// cancelOnCreate is a store whose CreateJob ends the caller's context once
// the job is stored, as a sender hanging up at that moment would.
type cancelOnCreate struct {
	*sqlite.Store
	cancel context.CancelFunc
}

func (s cancelOnCreate) CreateJob(ctx context.Context, j ci.Job) (ci.Job, error) {
	created, err := s.Store.CreateJob(ctx, j)
	s.cancel()
	return created, err
}

// On a volatile queue (a bare memq, as narwhal dev runs), Accept stores the
// job marked published and writes nothing after the publish: the job stays
// at version 1 and is never listed unpublished, the sweep has nothing to do,
// and the message is in the queue although the caller's context ended
// between the create and the publish.
func TestAcceptOnAVolatileQueue(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(t.Context(), sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	q := memq.New(memq.Config{})
	t.Cleanup(func() { q.Close(); st.Close() })
	ctx, cancel := context.WithCancel(t.Context())
	in := &Intake{Store: cancelOnCreate{st, cancel}, Queue: q, Logger: quiet(), MarkLater: true}
	job := sample("aaa111")
	out, err := in.Accept(ctx, "d-1", job)
	in.Flush()
	if err != nil || out != (Outcome{JobID: jobID(job), Published: true}) {
		t.Fatalf("Accept = %+v, %v; want published with no problem", out, err)
	}
	got, err := st.GetJob(t.Context(), out.JobID)
	if err != nil || !got.Published || got.Version != 1 || got.Status != ci.StatusQueued {
		t.Fatalf("stored %+v, %v; want queued and published at version 1 (no mark written after)", got, err)
	}
	if unpublished, err := st.ListUnpublished(t.Context(), time.Now().Add(time.Hour), 0); err != nil || len(unpublished) != 0 {
		t.Fatalf("ListUnpublished = %d jobs, %v; want none", len(unpublished), err)
	}
	if n, err := in.Sweep(t.Context(), 0); err != nil || n != 0 {
		t.Fatalf("Sweep = %d, %v; want nothing to publish", n, err)
	}
	msgs := drainQueue(t, q)
	var m ci.JobMessage
	if len(msgs) != 1 || json.Unmarshal(msgs[0].Body, &m) != nil || m.JobID != out.JobID {
		t.Fatalf("queue holds %d messages (first %+v), want the job's one", len(msgs), m)
	}
}
