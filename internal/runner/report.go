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
// and enqueues them to the outbox in that order: one report at a time, so the
// outbox (which publishes in order) holds them by increasing Seq.
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

// send enqueues ev, numbered, stamped and signed.
func (p *reporter) send(ev ci.RunnerEvent) { p.sendWith(ev, nil) }

// sendWith enqueues ev with extra message headers. A final job report (a
// final status, or a job handed back) the outbox refuses is retried with
// backoff until the outbox takes it or the reporter stops (mustDeliver);
// later reports wait behind it. Any other report the outbox cannot take is
// logged and lost; its Seq is used by the next one, so consumers see no gap.
func (p *reporter) sendWith(ev ci.RunnerEvent, headers map[string]string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ev.RunnerID, ev.Seq, ev.Time = p.runnerID, p.seq+1, time.Now().UTC()
	m, err := ci.NewEventMessage(ev, p.boot)
	if err == nil {
		for k, v := range headers {
			m.Headers[k] = v
		}
		if p.token != "" {
			m.Headers[runnerkey.Header] = runnerkey.Sign(p.token, m.Body)
		}
		err = p.enqueue(m)
		if err != nil && mustDeliver(ev) {
			err = p.retry(ev, m, err)
		}
	}
	if err != nil {
		p.log.Error("report lost: outbox refused it", "kind", ev.Kind, "job_id", ev.JobID, "err", err)
		return
	}
	p.seq++
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
