package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/testenv"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue/amqp"
	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/runnerkey"
)

// gitRepo makes a repository with one commit holding narwhal.yml and returns
// its file:// URL and the commit's SHA.
func gitRepo(t *testing.T, narwhalYML string) (string, string) {
	t.Helper()
	dir, sha := testenv.GitRepo(t, map[string]string{"narwhal.yml": narwhalYML})
	return "file://" + dir, sha
}

// repoJob is a Run payload for the repository at url.
func repoJob(id, url, sha string) rpc.Job {
	return rpc.Job{ID: id, Attempt: 1, Repo: "acme/app", CloneURL: url, SHA: sha,
		Ref: "refs/heads/main", Branch: "main", Event: ci.EventPush}
}

// newJobID returns a job ID unique to this test run.
func newJobID(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// amqpPrefix returns a topology prefix of the test's own; the topology is
// deleted at the end of the test.
func amqpPrefix(t *testing.T, url string) string {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	prefix := "test-runnerd-" + hex.EncodeToString(b[:]) + "."
	t.Cleanup(func() {
		if err := amqp.DeleteTopology(amqp.Config{URL: url, Prefix: prefix}); err != nil {
			t.Logf("delete topology: %v", err)
		}
	})
	return prefix
}

// events consumes the runner reports of a topology and keeps them.
type events struct {
	mu   sync.Mutex
	all  []ci.RunnerEvent
	ids  []string // message IDs, in arrival order
	bad  []string // message IDs of reports not signed by the runner they name
	more chan struct{}
}

// consumeEvents consumes ci.QueueEvents of prefix until the end of the test,
// one message at a time, so that the arrival order is the queue's order.
func consumeEvents(t *testing.T, url, prefix string) *events {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	q, err := amqp.New(ctx, amqp.Config{URL: url, Prefix: prefix, BackoffMax: time.Second},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	e := &events{more: make(chan struct{})}
	cctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		q.Consume(cctx, ci.QueueEvents, 1, e.handle)
	}()
	t.Cleanup(func() {
		stop()
		<-done
		q.Close()
		if bad := e.unsigned(); len(bad) > 0 {
			t.Errorf("reports not signed with their runner's token: %v", bad)
		}
	})
	return e
}

// unsigned lists the reports whose signature does not verify.
func (e *events) unsigned() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.bad)
}

func (e *events) handle(_ context.Context, d ci.Delivery) error {
	var ev ci.RunnerEvent
	if err := json.Unmarshal(d.Body, &ev); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all, e.ids = append(e.all, ev), append(e.ids, d.ID)
	if !(runnerkey.Fleet{fleetKey}).Verify(ev.RunnerID, d.Body, d.Headers[runnerkey.Header]) {
		e.bad = append(e.bad, d.ID)
	}
	close(e.more)
	e.more = make(chan struct{})
	return nil
}

// waitFor waits until a report matches and returns it.
func (e *events) waitFor(t *testing.T, timeout time.Duration, what string, match func(ci.RunnerEvent) bool) ci.RunnerEvent {
	t.Helper()
	deadline := time.After(timeout)
	for {
		e.mu.Lock()
		more := e.more
		for _, ev := range e.all {
			if match(ev) {
				e.mu.Unlock()
				return ev
			}
		}
		e.mu.Unlock()
		select {
		case <-more:
		case <-deadline:
			t.Fatalf("no report %s within %v; got %d reports", what, timeout, len(e.snapshot()))
		}
	}
}

func (e *events) snapshot() []ci.RunnerEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]ci.RunnerEvent(nil), e.all...)
}

// final waits for the final report of job id.
func (e *events) final(t *testing.T, id string, timeout time.Duration) ci.RunnerEvent {
	t.Helper()
	return e.waitFor(t, timeout, "final of "+id, func(ev ci.RunnerEvent) bool {
		return ev.Kind == ci.EventJob && ev.JobID == id && ev.Status != ci.StatusRunning
	})
}
