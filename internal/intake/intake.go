// Package intake turns a job request into a durable, queued job: it writes the
// job to the Store (conditionally, so a redelivered webhook finds the job it
// made before), publishes its message with a broker confirm, and marks it
// published. A sweeper republishes jobs whose publish failed. It knows nothing
// of HTTP, AWS or Lambda; functions/agent translates webhooks into calls here.
package intake

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue"
)

// Intake accepts job requests. Store and Queue are required; Logger (Sweep's
// record of what it republished) and Now default to slog.Default and time.Now. An Intake is safe for concurrent use
// once its fields are set; it must not be copied after first use.
//
// With a Queue that is queue.Volatile (memq), a job's message lives as long
// as the process, and the process that starts after it publishes every
// queued job again. So Accept stores a new job with Published set already and
// publishes it on a context detached from the caller's (only a closed queue
// can refuse it), with no mark to write after: a crash between the two loses
// nothing. For narwhal dev this is one SQLite write fewer per webhook
// (issue 15).
type Intake struct {
	Store  ci.Store
	Queue  ci.Queue
	Logger *slog.Logger
	Now    func() time.Time
	// PublishTimeout bounds Accept's publish (with a lazy queue, its connect
	// too), so that a webhook is answered while GitHub still waits (10 s): a
	// publish that times out leaves the job to Sweep. Zero means
	// DefaultPublishTimeout.
	PublishTimeout time.Duration

	// MarkLater makes Accept return once the queue confirmed the publish,
	// without waiting for the Published mark: the mark is written in the
	// background, coalesced with the others (a store without a
	// PublishMarker ignores it). Outcome.Published still means the queue
	// has the message; the stored job shows it a moment later, and a mark
	// lost with the process only costs a second publish by Sweep. Only for
	// a process that outlives its requests and calls Flush before it closes
	// the store (narwhal dev): a Lambda may be frozen right after it
	// answers, leaving the mark unwritten until the next invocation.
	MarkLater bool

	marks coalescer // Accept's marks, for a Store that is a PublishMarker
	later later     // the same, with MarkLater
}

// Flush returns once every mark that MarkLater left in the background is
// written (or failed). Call it after the last Accept, before the store
// closes.
func (in *Intake) Flush() { in.later.wait() }

// DefaultPublishTimeout is the PublishTimeout of an Intake that sets none.
const DefaultPublishTimeout = 5 * time.Second

// MaxMessage is the longest commit message a job keeps (longer ones are
// clipped), so that one commit cannot fill the store's item.
const MaxMessage = 16 << 10

// Outcome is what Accept did.
type Outcome struct {
	JobID string
	// Duplicate is true when the job existed already (a redelivery, or the
	// same commit pushed again): nothing was created or published.
	Duplicate bool
	// Published is true when the queue confirmed the job's message. A new job
	// that is not published is still durable: Sweep publishes it later.
	Published bool
	// Problem is what went wrong without failing Accept: why the publish
	// failed, or why the Published mark could not be written after it (then
	// Sweep may publish the job a second time), or why a duplicate's
	// delivery was not recorded. The caller logs it.
	Problem error
}

// Accept makes job durable and queued. It fills the ID (ci.JobIDOf) when empty
// and sets the state fields: queued, attempt 1, unpublished (published with a
// volatile queue, see Intake), deliveries [deliveryID]. Then, in this order: a
// conditional create in the Store; a confirmed publish; the Published mark.
//
// A deliveryID that ci.CheckDeliveryID refuses gives an error matching
// ci.ErrBadDelivery before anything is written; "" records no delivery.
//
// When the job exists already, Accept records deliveryID on it (once, capped
// by ci.Job.AddDelivery) and returns Outcome{Duplicate: true}; should the
// record then be too large for the store, the job ends (ci.Update) and the
// Outcome's Problem says so. When the publish fails, the
// job stays queued and unpublished and Accept still succeeds with
// Published false: the caller answers the webhook and Sweep publishes later.
// A failure to write the Published mark after a confirmed publish is not
// returned either: at worst Sweep publishes the job a second time, which
// consumers tolerate. Both land in Outcome.Problem. Errors come only from the
// Store.
func (in *Intake) Accept(ctx context.Context, deliveryID string, job ci.Job) (Outcome, error) {
	if deliveryID != "" {
		if err := ci.CheckDeliveryID(deliveryID); err != nil {
			return Outcome{}, err
		}
	}
	job = in.fresh(deliveryID, job)
	volatile := queue.IsVolatile(in.Queue)
	created, err := in.Store.CreateJob(ctx, job)
	if errors.Is(err, ci.ErrExists) {
		return in.duplicate(ctx, deliveryID, job.ID)
	}
	if err != nil {
		return Outcome{}, fmt.Errorf("create job %s: %w", job.ID, err)
	}
	if volatile {
		ctx = context.WithoutCancel(ctx) // a volatile queue does not block
	}
	if err := in.publish(ctx, created); err != nil {
		return Outcome{JobID: created.ID, Problem: fmt.Errorf("publish job %s: %w", created.ID, err)}, nil
	}
	if volatile {
		return Outcome{JobID: created.ID, Published: true}, nil
	}
	return Outcome{JobID: created.ID, Published: true, Problem: in.markAccepted(ctx, created)}, nil
}

// publish publishes j's message within the publish timeout.
func (in *Intake) publish(ctx context.Context, j ci.Job) error {
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(in.PublishTimeout, DefaultPublishTimeout))
	defer cancel()
	return in.Queue.Publish(ctx, ci.NewJobMessage(j))
}

// fresh returns job with its ID and initial state set.
func (in *Intake) fresh(deliveryID string, job ci.Job) ci.Job {
	if job.ID == "" {
		job.ID = ci.JobIDOf(job)
	}
	// Unpublished, but for a volatile queue: see Intake.
	job.Status, job.Attempt, job.Published, job.Version = ci.StatusQueued, 1, queue.IsVolatile(in.Queue), 0
	job.Deliveries, job.DeliveriesDropped = nil, 0
	if deliveryID != "" {
		job.Deliveries = []string{deliveryID}
	}
	job.Message = ci.Clip(job.Message, MaxMessage)
	now := in.now()
	job.CreatedAt, job.UpdatedAt = now, now
	return job
}

// duplicate records deliveryID on the existing job id.
func (in *Intake) duplicate(ctx context.Context, deliveryID, id string) (Outcome, error) {
	out := Outcome{JobID: id, Duplicate: true}
	if deliveryID == "" {
		return out, nil
	}
	_, err := ci.Update(ctx, in.Store, id, func(j *ci.Job) error {
		if !j.AddDelivery(deliveryID) {
			return errUnchanged
		}
		return nil
	})
	switch {
	case errors.Is(err, ci.ErrTooLarge):
		// The job has ended (ci.Update); the delivery is answered all the same.
		out.Problem = fmt.Errorf("record delivery %s on job %s: %w", deliveryID, id, err)
	case err != nil && !errors.Is(err, errUnchanged):
		return Outcome{}, fmt.Errorf("record delivery %s on job %s: %w", deliveryID, id, err)
	}
	return out, nil
}

// errUnchanged aborts a ci.Update that has nothing to write.
var errUnchanged = errors.New("unchanged")

func (in *Intake) logger() *slog.Logger {
	if in.Logger == nil {
		return slog.Default()
	}
	return in.Logger
}

func (in *Intake) now() time.Time {
	if in.Now == nil {
		return time.Now()
	}
	return in.Now()
}
