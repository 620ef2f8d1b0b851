package runner

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// reporter numbers the runner's reports and enqueues them to the outbox in
// that order: one report at a time, so the outbox (which publishes in order)
// holds them by increasing Seq.
type reporter struct {
	runnerID string
	boot     string // distinguishes message IDs across restarts of the process
	out      Reports
	log      *slog.Logger

	mu  sync.Mutex
	seq uint64
}

func newReporter(runnerID string, out Reports, log *slog.Logger) *reporter {
	return &reporter{runnerID: runnerID, boot: strconv.FormatInt(time.Now().UnixNano(), 36), out: out, log: log}
}

// send enqueues ev, numbered and stamped.
func (p *reporter) send(ev ci.RunnerEvent) { p.sendWith(ev, nil) }

// sendWith enqueues ev with extra message headers. A report the outbox
// cannot take (its disk is full or broken) is logged and lost; its Seq is
// used by the next one, so consumers see no gap for it.
func (p *reporter) sendWith(ev ci.RunnerEvent, headers map[string]string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ev.RunnerID, ev.Seq, ev.Time = p.runnerID, p.seq+1, time.Now().UTC()
	m, err := Message(ev, p.boot)
	if err == nil {
		for k, v := range headers {
			m.Headers[k] = v
		}
		ctx, cancel := context.WithTimeout(context.Background(), ReportTimeout)
		err = p.out.Enqueue(ctx, m)
		cancel()
	}
	if err != nil {
		p.log.Error("report lost: outbox refused it", "kind", ev.Kind, "job_id", ev.JobID, "err", err)
		return
	}
	p.seq++
}

// Message wraps a report in the queue message that carries it: key
// "event.<kind>", ID "<runner>-<boot>-<seq>" (unique across restarts of a
// runner), the JSON event as body, and headers runner-id, kind and seq.
func Message(ev ci.RunnerEvent, boot string) (ci.Message, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return ci.Message{}, err
	}
	seq := strconv.FormatUint(ev.Seq, 10)
	return ci.Message{
		Key:     ci.RouteEvents + "." + string(ev.Kind),
		ID:      ev.RunnerID + "-" + boot + "-" + seq,
		Body:    body,
		Headers: map[string]string{"runner-id": ev.RunnerID, "kind": string(ev.Kind), "seq": seq},
	}, nil
}
