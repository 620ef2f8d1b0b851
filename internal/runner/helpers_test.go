package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor/fake"
	"github.com/narwhal-ci/narwhal/internal/logstore"
	"github.com/narwhal-ci/narwhal/internal/logstore/fs"
	"github.com/narwhal-ci/narwhal/internal/pipeline"
	"github.com/narwhal-ci/narwhal/internal/rpc"
)

// outbox is a hand-written Reports that keeps every message in memory.
type outbox struct {
	mu   sync.Mutex
	msgs []ci.Message
	more chan struct{} // closed and replaced on every Enqueue
}

func newOutbox() *outbox { return &outbox{more: make(chan struct{})} }

func (o *outbox) Enqueue(_ context.Context, m ci.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs = append(o.msgs, m)
	close(o.more)
	o.more = make(chan struct{})
	return nil
}

func (o *outbox) Pending() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.msgs)
}

// events decodes every report so far.
func (o *outbox) events(t *testing.T) []ci.RunnerEvent {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]ci.RunnerEvent, len(o.msgs))
	for i, m := range o.msgs {
		if err := json.Unmarshal(m.Body, &out[i]); err != nil {
			t.Fatalf("report %d: %v", i, err)
		}
	}
	return out
}

// waitFor waits until some report matches, and returns it.
func (o *outbox) waitFor(t *testing.T, what string, match func(ci.RunnerEvent) bool) ci.RunnerEvent {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		o.mu.Lock()
		more := o.more
		o.mu.Unlock()
		for _, ev := range o.events(t) {
			if match(ev) {
				return ev
			}
		}
		select {
		case <-more:
		case <-deadline:
			t.Fatalf("no report %s; got %s", what, describe(o.events(t)))
		}
	}
}

// final waits for the final report of job id.
func (o *outbox) final(t *testing.T, id string) ci.RunnerEvent {
	t.Helper()
	return o.waitFor(t, "final of "+id, func(ev ci.RunnerEvent) bool {
		return ev.Kind == ci.EventJob && ev.JobID == id && ev.Status != ci.StatusRunning
	})
}

// jobReports lists the job and step reports of id as "job running",
// "step build running", ...
func (o *outbox) jobReports(t *testing.T, id string) []string {
	var out []string
	for _, ev := range o.events(t) {
		switch {
		case ev.JobID != id:
		case ev.Kind == ci.EventJob && ev.TimeoutSeconds > 0:
			out = append(out, fmt.Sprintf("job %s %ds", ev.Status, ev.TimeoutSeconds))
		case ev.Kind == ci.EventJob:
			out = append(out, "job "+string(ev.Status))
		case ev.Kind == ci.EventStep:
			out = append(out, "step "+ev.Step.Name+" "+string(ev.Step.Status))
		}
	}
	return out
}

func describe(evs []ci.RunnerEvent) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "\n  #%d %s job=%s status=%s", ev.Seq, ev.Kind, ev.JobID, ev.Status)
		if ev.Step != nil {
			fmt.Fprintf(&b, " step=%s/%s", ev.Step.Name, ev.Step.Status)
		}
	}
	return b.String()
}

// staticCheckout returns the same pipeline for every job, without cloning.
type staticCheckout struct{ yml string }

func (c staticCheckout) Checkout(context.Context, string, rpc.Job) (*pipeline.Pipeline, error) {
	return pipeline.Parse(PipelineFile, []byte(c.yml))
}

const twoSteps = `image: busybox
steps:
  - name: build
    commands: ["make"]
  - name: test
    commands: ["make test"]
`

// rig is a Runner on the fake executor with its outbox and log store.
type rig struct {
	r    *Runner
	exec *fake.Executor
	out  *outbox
	logs logstore.Store
}

func newRig(t *testing.T, cfg Config, yml string) *rig {
	t.Helper()
	if cfg.ID == "" {
		cfg.ID = "r1"
	}
	cfg.Capacity = max(cfg.Capacity, 1)
	cfg.WorkDir = t.TempDir()
	g := &rig{exec: fake.New(), out: newOutbox(), logs: fs.New(t.TempDir())}
	g.r = startRunner(t, cfg, Deps{Exec: g.exec, Reports: g.out, Logs: g.logs, Checkout: staticCheckout{yml}}, 10*time.Second)
	return g
}

// startRunner makes and starts a Runner, and closes it when the test ends,
// giving its jobs up to grace to finish; a Close that fails fails the test.
func startRunner(t *testing.T, cfg Config, deps Deps, grace time.Duration) *Runner {
	t.Helper()
	r, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return r
}

// run calls Run and fails the test unless the answer is accepted.
func (g *rig) run(t *testing.T, id string, attempt int) {
	t.Helper()
	ok, reason, err := g.r.Run(t.Context(), testJob(id, attempt))
	if err != nil || !ok {
		t.Fatalf("run %s: accepted=%v reason=%q err=%v", id, ok, reason, err)
	}
}

func testJob(id string, attempt int) rpc.Job {
	return rpc.Job{ID: id, Attempt: attempt, Repo: "acme/app", CloneURL: "file:///nowhere",
		SHA: strings.Repeat("a", 40), Ref: "refs/heads/main", Branch: "main", Event: ci.EventPush}
}

// readLog reads the whole log of id and whether it is complete.
func (g *rig) readLog(t *testing.T, id string) (string, bool) {
	t.Helper()
	data, complete, err := g.logs.Read(t.Context(), id, 0, 1<<20)
	if err != nil {
		t.Fatalf("read log of %s: %v", id, err)
	}
	return string(data), complete
}

// gate is a step outcome that blocks until released or cancelled.
type gate chan struct{}

func (g gate) outcome(lines ...string) fake.Outcome {
	return fake.Outcome{Output: fake.Lines(lines...), Hook: func(ctx context.Context) {
		select {
		case <-g:
		case <-ctx.Done():
		}
	}}
}

// waitRunning waits until the step of job id has started.
func (g *rig) waitRunning(t *testing.T, id, step string) {
	t.Helper()
	g.out.waitFor(t, step+" running", func(ev ci.RunnerEvent) bool {
		return ev.JobID == id && ev.Kind == ci.EventStep && ev.Step.Name == step && ev.Step.Status == "running"
	})
}
