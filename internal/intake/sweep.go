package intake

import (
	"context"
	"fmt"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// sweepBatch is how many unpublished jobs Sweep reads at a time.
const sweepBatch = 100

// Sweep publishes the jobs that are queued but unpublished and were created
// more than olderThan ago (their Accept could not publish, or the dispatcher
// requeued them and crashed before publishing), and marks them published. It
// returns how many it published. It stops at the first publish error, which it
// returns: the broker is likely down, and the next sweep retries. Running it
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
		for _, j := range jobs {
			if err := in.Queue.Publish(ctx, ci.NewJobMessage(j)); err != nil {
				return published, fmt.Errorf("sweep: publish job %s: %w", j.ID, err)
			}
			published++
			if err := in.markPublished(ctx, j); err != nil {
				return published, fmt.Errorf("sweep: %w", err)
			}
			in.logger().Info("republished job", "job_id", j.ID, "attempt", j.Attempt)
		}
		if len(jobs) < sweepBatch {
			return published, nil
		}
	}
}
