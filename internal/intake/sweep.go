package intake

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// sweepBatch is how many unpublished jobs Sweep reads at a time.
const sweepBatch = 100

// Sweep publishes the jobs that are queued but unpublished and were created
// more than olderThan ago (their Accept could not publish, or the dispatcher
// requeued them and crashed before publishing), and marks them published:
// each page's confirmed jobs with one write when the store is a
// PublishMarker. It returns how many it published. It stops at the first
// publish error, which it returns (after marking what it published before
// it): the broker is likely down, and the next sweep retries. Running it
// concurrently with Accept or with itself is safe: a job published twice is
// handled once, because consumers check the job's state in the Store.
func (in *Intake) Sweep(ctx context.Context, olderThan time.Duration) (int, error) {
	before := in.now().Add(-olderThan)
	published := 0
	for {
		jobs, err := in.Store.ListUnpublished(ctx, before, sweepBatch)
		if err != nil {
			return published, fmt.Errorf("sweep: list unpublished: %w", err)
		}
		n, err := in.republish(ctx, jobs)
		published += n
		if err != nil || len(jobs) < sweepBatch {
			return published, err
		}
	}
}

// republish publishes jobs in order until one fails, then marks those it
// published. It returns how many it published and the first error.
func (in *Intake) republish(ctx context.Context, jobs []ci.Job) (int, error) {
	var pubErr error
	n := 0
	for ; n < len(jobs); n++ {
		if err := in.Queue.Publish(ctx, ci.NewJobMessage(jobs[n])); err != nil {
			pubErr = fmt.Errorf("sweep: publish job %s: %w", jobs[n].ID, err)
			break
		}
		in.logger().Info("republished job", "job_id", jobs[n].ID, "attempt", jobs[n].Attempt)
	}
	if n == 0 {
		return 0, pubErr
	}
	if err := in.markPublished(ctx, jobs[:n]...); err != nil {
		return n, errors.Join(pubErr, fmt.Errorf("sweep: %w", err))
	}
	return n, pubErr
}
