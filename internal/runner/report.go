package runner

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/retry"
	"github.com/narwhal-ci/narwhal/internal/runnerkey"
)

// Backoff of a final report the outbox refused (its disk is full).
const (
	finalRetryInitial = 100 * time.Millisecond
	finalRetryMax     = 5 * time.Second
)

// reporter numbers the runner's reports, signs them with the runner's token
// and enqueues them to the outbox in that order, so the outbox (which
// publishes in order) holds them by increasing Seq. With an outbox that can
// queue a message before it is on disk (queuer, as *outbox.Outbox), only the
// queueing is one report at a time: the reports of concurrent jobs then wait
// for the disk together, in one batch of the outbox.
type reporter struct {
	runnerID string
	token    string // signs every report; "" sends them unsigned
	boot     string // distinguishes message IDs across restarts of the process
	out      Reports
	log      *slog.Logger

	// stopped ends the retries of final reports (Runner.Close).
	stopped context.Context
	stop    context.CancelFunc

	mu  sync.Mutex
	seq uint64
}

func newReporter(runnerID, token string, out Reports, log *slog.Logger) *reporter {
	ctx, cancel := context.WithCancel(context.Background())
	return &reporter{runnerID: runnerID, token: token, boot: strconv.FormatInt(time.Now().UnixNano(), 36),
		out: out, log: log, stopped: ctx, stop: cancel}
}

// queuer is an outbox that can queue a message in order at once and wait
// for it to be on disk after (outbox.Outbox.Queue).
type queuer interface {
	Queue(ctx context.Context, m ci.Message) (wait func() error)
}

// send enqueues ev, numbered, stamped and signed.
func (p *reporter) send(ev ci.RunnerEvent) { p.sendWith(ev, nil) }

// sendWith enqueues ev with extra message headers. A final job report (a
// final status, or a job handed back) the outbox refuses is retried with
// backoff until the outbox takes it or the reporter stops (mustDeliver);
// the caller's later reports wait behind it. Any other report the outbox
// cannot take is logged and lost, leaving a gap in Seq (message IDs stay
// unique).
func (p *reporter) sendWith(ev ci.RunnerEvent, headers map[string]string) {
	m, wait, err := p.number(ev, headers)
	if err == nil {
		err = wait()
		if err != nil && mustDeliver(ev) {
			err = p.retry(ev, m, err)
		}
	}
	if err != nil {
		p.log.Error("report lost: outbox refused it", "kind", ev.Kind, "job_id", ev.JobID, "err", err)
	}
}

// number stamps ev with the next Seq, signs its message and queues it, in
// the order of the calls; wait waits until the message is on disk.
func (p *reporter) number(ev ci.RunnerEvent, headers map[string]string) (m ci.Message, wait func() error, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	ev.RunnerID, ev.Seq, ev.Time = p.runnerID, p.seq, time.Now().UTC()
	if m, err = ci.NewEventMessage(ev, p.boot); err != nil {
		return m, nil, err
	}
	for k, v := range headers {
		m.Headers[k] = v
	}
	if p.token != "" {
		m.Headers[runnerkey.Header] = runnerkey.Sign(p.token, m.Body)
	}
	return m, p.queue(m), nil
}

// queue queues m in the outbox: at once with a queuer, waiting for the disk
// after; with any other outbox, by enqueueing it now.
func (p *reporter) queue(m ci.Message) (wait func() error) {
	ctx, cancel := context.WithTimeout(context.Background(), ReportTimeout)
	if q, ok := p.out.(queuer); ok {
		w := q.Queue(ctx, m)
		return func() error { defer cancel(); return w() }
	}
	defer cancel()
	err := p.out.Enqueue(ctx, m)
	return func() error { return err }
}

// mustDeliver reports whether ev is a report without which a job would stay
// running: a job's final state, or a job handed back.
func mustDeliver(ev ci.RunnerEvent) bool {
	return ev.Kind == ci.EventJob && (ev.Status.Final() || ev.Requeue)
}

func (p *reporter) enqueue(m ci.Message) error {
	ctx, cancel := context.WithTimeout(context.Background(), ReportTimeout)
	defer cancel()
	return p.out.Enqueue(ctx, m)
}

// retry enqueues m until the outbox takes it, pausing with a jittered
// exponential backoff, and gives up only when the reporter stops.
func (p *reporter) retry(ev ci.RunnerEvent, m ci.Message, err error) error {
	delay := finalRetryInitial
	for attempt := 1; ; attempt++ {
		if attempt == 1 || attempt%20 == 0 {
			p.log.Warn("final report refused by the outbox; retrying until it takes it",
				"job_id", ev.JobID, "status", ev.Status, "attempt", attempt, "err", err)
		}
		if !retry.Sleep(p.stopped, retry.Jitter(delay)) {
			return err
		}
		if err = p.enqueue(m); err == nil {
			p.log.Info("final report enqueued after retries", "job_id", ev.JobID, "attempts", attempt+1)
			return nil
		}
		delay = min(2*delay, finalRetryMax)
	}
}
