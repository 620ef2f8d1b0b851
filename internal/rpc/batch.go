package rpc

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/narwhal-ci/narwhal/internal/rpc/runnerpb"
)

// Bounds of one RunBatch: how many jobs it carries (the server refuses more)
// and how many bytes of them the client puts in one (a job larger than that
// goes alone, as a Run). gRPC's default limit on a message is 4 MiB.
const (
	MaxRunBatch      = 256
	maxRunBatchBytes = 1 << 20
)

// runBatcher is the group commit of a Client's Runs. Each gRPC call costs
// both ends far more than the job it carries (headers, HTTP/2 frames, TLS
// records, a stream: 40% of the dispatcher's CPU per job, issue 15), so one
// goroutine per Client sends the Runs: one at a time, and every Run queued
// while a call was under way goes in the next call, a RunBatch. A Run that
// finds the runner idle goes alone, as a Run, so an idle dispatcher sends
// what it always sent. A runner that does not know RunBatch (an older
// runnerd) answers UNIMPLEMENTED; from then on the Client sends Runs alone,
// concurrently, as before.
//
// Each caller still has its own answer, and its ctx bounds its wait: a Run
// whose ctx ends before its call left is not sent; one whose ctx ends after
// may have reached the runner, which dedups by job ID, as after any failed
// Run. The call carrying a batch is bounded by the latest deadline in it.
type runBatcher struct {
	c         *Client
	queue     chan *queuedRun
	quit      chan struct{} // closed by close: nothing is sent after it
	exited    chan struct{} // closed when the loop returned
	stop      sync.Once
	unbatched atomic.Bool // the runner answered RunBatch with UNIMPLEMENTED
}

// queuedRun is one Run waiting for its call.
type queuedRun struct {
	ctx  context.Context
	req  *runnerpb.RunRequest
	size int // proto.Size(req)
	done chan runAnswer
}

// runAnswer is the runner's answer to one Run.
type runAnswer struct {
	accepted bool
	reason   string
	err      error
}

func newRunBatcher(c *Client) *runBatcher {
	b := &runBatcher{c: c, queue: make(chan *queuedRun, MaxRunBatch),
		quit: make(chan struct{}), exited: make(chan struct{})}
	go b.loop()
	return b
}

// run queues req and returns the runner's answer to it.
func (b *runBatcher) run(ctx context.Context, req *runnerpb.RunRequest) (bool, string, error) {
	if b.unbatched.Load() {
		a := b.c.runAlone(ctx, req)
		return a.accepted, a.reason, a.err
	}
	q := &queuedRun{ctx: ctx, req: req, size: proto.Size(req), done: make(chan runAnswer, 1)}
	select {
	case b.queue <- q:
	case <-ctx.Done():
		return false, "", b.c.ended(ctx)
	case <-b.quit:
		return false, "", b.c.closedErr()
	}
	select {
	case a := <-q.done:
		return a.accepted, a.reason, a.err
	case <-ctx.Done():
		return false, "", b.c.ended(ctx)
	case <-b.quit:
		return false, "", b.c.closedErr() // the call under way fails too
	}
}

// close stops sending: every Run waiting gets an error at once, and the
// loop returns once the call under way did (closing the connection ends it).
func (b *runBatcher) close() { b.stop.Do(func() { close(b.quit) }) }

// loop sends the queued Runs, a call at a time, until close. A Run waiting
// when it returns has had its answer from run already (quit).
func (b *runBatcher) loop() {
	defer close(b.exited)
	var first *queuedRun // taken from the queue, too large for the last batch
	for {
		if first == nil {
			select {
			case first = <-b.queue:
			case <-b.quit:
				return
			}
		}
		select {
		case <-b.quit:
			return
		default:
		}
		var batch []*queuedRun
		batch, first = b.collect(first)
		b.send(batch)
	}
}

// collect returns first and the Runs queued behind it that fit one batch,
// and the Run it took that did not fit, if any.
func (b *runBatcher) collect(first *queuedRun) (batch []*queuedRun, carry *queuedRun) {
	batch, bytes := []*queuedRun{first}, first.size
	for len(batch) < MaxRunBatch {
		select {
		case q := <-b.queue:
			if bytes+q.size > maxRunBatchBytes {
				return batch, q
			}
			batch, bytes = append(batch, q), bytes+q.size
		default:
			return batch, nil
		}
	}
	return batch, nil
}

// send sends batch, less the Runs whose ctx ended meanwhile, and answers
// each: alone as a Run, or together as a RunBatch.
func (b *runBatcher) send(batch []*queuedRun) {
	live := batch[:0]
	for _, q := range batch {
		if q.ctx.Err() != nil {
			q.done <- runAnswer{err: b.c.ended(q.ctx)}
			continue
		}
		live = append(live, q)
	}
	switch {
	case len(live) == 0:
	case len(live) == 1:
		live[0].done <- b.c.runAlone(live[0].ctx, live[0].req)
	default:
		b.sendBatch(live)
	}
}

// sendBatch sends the Runs of live in one RunBatch; when the runner does not
// know RunBatch, it sends each alone.
func (b *runBatcher) sendBatch(live []*queuedRun) {
	ctx, cancel := batchContext(live)
	defer cancel()
	answers, err := b.c.runBatch(ctx, live)
	if status.Code(err) == codes.Unimplemented {
		b.unbatched.Store(true)
		b.c.log.Info("rpc: runner does not know RunBatch; sending Runs alone", "runner", b.c.addr)
		var wg sync.WaitGroup
		for _, q := range live {
			wg.Go(func() { q.done <- b.c.runAlone(q.ctx, q.req) })
		}
		wg.Wait()
		return
	}
	for i, q := range live {
		if err != nil {
			q.done <- runAnswer{err: err}
			continue
		}
		q.done <- answers[i]
	}
}

// batchContext bounds the call carrying live by the latest of their
// deadlines; with a Run that has none, by nothing but the Client's retries.
// No caller's cancellation ends it: the others still want their answers.
func batchContext(live []*queuedRun) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, q := range live {
		d, ok := q.ctx.Deadline()
		if !ok {
			return context.WithCancel(context.Background())
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.Background(), latest)
}

// runAlone sends one Run.
func (c *Client) runAlone(ctx context.Context, req *runnerpb.RunRequest) runAnswer {
	var resp *runnerpb.RunResponse
	err := c.call(ctx, opRun, func(ctx context.Context) (err error) {
		resp, err = c.runner.Run(ctx, req)
		return err
	})
	if err != nil {
		return runAnswer{err: err}
	}
	return runAnswer{accepted: resp.GetAccepted(), reason: resp.GetReason()}
}

// runBatch sends the Runs of live in one RunBatch and returns each one's
// answer, in order.
func (c *Client) runBatch(ctx context.Context, live []*queuedRun) ([]runAnswer, error) {
	req := &runnerpb.RunBatchRequest{Jobs: make([]*runnerpb.RunRequest, len(live))}
	for i, q := range live {
		req.Jobs[i] = q.req
	}
	var resp *runnerpb.RunBatchResponse
	err := c.call(ctx, opRunBatch, func(ctx context.Context) (err error) {
		resp, err = c.runner.RunBatch(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	results := resp.GetResults()
	if len(results) != len(live) {
		return nil, fmt.Errorf("runner %s: RunBatch: %d results for %d jobs", c.addr, len(results), len(live))
	}
	answers := make([]runAnswer, len(live))
	for i, r := range results {
		answers[i] = runAnswer{accepted: r.GetAccepted(), reason: r.GetReason()}
		if code := codes.Code(r.GetCode()); code != codes.OK {
			answers[i] = runAnswer{err: c.fail(opRun, status.Error(code, r.GetMessage()))}
		}
	}
	return answers, nil
}

// ended is the error of a Run whose ctx ended before its answer came.
func (c *Client) ended(ctx context.Context) error {
	return fmt.Errorf("runner %s: %s: %w", c.addr, opRun.name, context.Cause(ctx))
}

// closedErr is the error of a Run on a closed Client.
func (c *Client) closedErr() error {
	return fmt.Errorf("runner %s: %s: %w", c.addr, opRun.name, status.Error(codes.Canceled, "client closed"))
}
