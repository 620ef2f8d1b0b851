package e2e

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue"
	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/runnerkey"
)

// sleepRepo is a local repository whose one step sleeps secs on the host.
func sleepRepo(t *testing.T, secs int) (string, string) {
	return gitRepo(t, "image: none\nsteps:\n  - name: wait\n    commands: [\"sleep "+strconv.Itoa(secs)+"\"]\n")
}

// A runner killed with SIGKILL mid-job is found lost by the monitor; the job
// is requeued and finishes on the other runner as attempt 2.
func TestKilledRunnerJobRequeued(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{lease: 2 * time.Second, monitorEvery: 300 * time.Millisecond})
	a := s.runner(runnerOpts{id: "a", executor: "host", heartbeat: 500 * time.Millisecond})
	b := s.runner(runnerOpts{id: "b", executor: "host", heartbeat: 500 * time.Millisecond})
	dir, sha := sleepRepo(t, 4)
	job := s.submit(localJob("file://"+dir, sha))
	j := s.waitStatus(job.ID, ci.StatusRunning, 20*time.Second)
	victim, other := a, b
	if j.RunnerID == b.id {
		victim, other = b, a
	}
	victim.Kill9()
	j = s.waitJob(job.ID, 30*time.Second, "on attempt 2", func(j ci.Job) bool { return j.Attempt == 2 })
	j = s.waitStatus(job.ID, ci.StatusSuccess, 30*time.Second)
	if j.RunnerID != other.id || j.Attempt != 2 {
		t.Fatalf("job finished on %s attempt %d, want %s attempt 2", j.RunnerID, j.Attempt, other.id)
	}
	if evs := s.jobEvents(job.ID, ci.StatusSuccess); len(evs) != 1 || evs[0].RunnerID != other.id || evs[0].Attempt != 2 {
		t.Fatalf("success reports %+v, want one from %s attempt 2", evs, other.id)
	}
}

// A full runner refuses the job offered to it; the next runner takes it.
func TestFullRunnerRefusesNextTakes(t *testing.T) {
	t.Parallel()
	// Heartbeats an hour apart: the registry keeps thinking runner a is idle,
	// so that a is offered the job first (lowest ID) and must refuse it.
	s := newStack(t, stackOpts{})
	a := s.runner(runnerOpts{id: "a", executor: "host", capacity: 1})
	b := s.runner(runnerOpts{id: "b", executor: "host", capacity: 1})
	dir, sha := sleepRepo(t, 10)
	c, err := rpc.Dial(context.Background(), a.GRPC, rpc.ClientConfig{CAPEM: certPEM, Token: runnerkey.Token(fleetKey, a.id)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	busy := rpc.Job{ID: "busy-" + randHex(4), Attempt: 1, Repo: "acme/app", CloneURL: "file://" + dir, SHA: sha,
		Ref: "refs/heads/main", Branch: "main", Event: ci.EventPush}
	if ok, why, err := c.Run(context.Background(), busy); err != nil || !ok {
		t.Fatalf("fill runner a: %v %v %s", ok, err, why)
	}
	quick, qsha := gitRepo(t, "image: none\nsteps:\n  - name: hi\n    commands: [\"echo hi\"]\n")
	job := s.submit(localJob("file://"+quick, qsha))
	j := s.waitStatus(job.ID, ci.StatusSuccess, 30*time.Second)
	if j.RunnerID != b.id || j.Attempt != 1 {
		t.Fatalf("job ran on %s attempt %d, want %s attempt 1", j.RunnerID, j.Attempt, b.id)
	}
	st, err := c.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Running) != 1 || st.Running[0] != busy.ID {
		t.Fatalf("runner a runs %v, want only %s", st.Running, busy.ID)
	}
	c.Cancel(context.Background(), busy.ID)
}

// The same job message delivered several times, and handled concurrently,
// runs the job once.
func TestDuplicateDeliveryRunsOnce(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{})
	s.runner(runnerOpts{id: "a", capacity: 4})
	s.runner(runnerOpts{id: "b", capacity: 4})
	job := s.submit(localJob("file:///nonexistent/e2e-repo", strings.Repeat("ab", 20)))
	msg := ci.NewJobMessage(job)
	for range 3 {
		if err := s.queue.Publish(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.d.HandleJob(context.Background(), ci.Delivery{Message: msg, Attempt: 1}); err != nil {
				t.Errorf("HandleJob: %v", err)
			}
		}()
	}
	wg.Wait()
	j := s.waitStatus(job.ID, ci.StatusSuccess, 20*time.Second)
	time.Sleep(time.Second) // room for a second run's reports, if there were one
	if j.Attempt != 1 {
		t.Fatalf("attempt %d, want 1", j.Attempt)
	}
	// One run reports running twice: when it starts, and with its timeout
	// once the pipeline is read.
	if n := len(s.jobEvents(job.ID, ci.StatusRunning)); n != 2 {
		t.Fatalf("%d job-running reports, want 2 (one run)", n)
	}
	if n := len(s.jobEvents(job.ID, ci.StatusSuccess)); n != 1 {
		t.Fatalf("%d success reports, want 1", n)
	}
}

// A job message that is not JSON ends in the dead-letter queue; a job that
// every runner rejects as invalid ends in error with a reason.
func TestPoisonMessagesDeadLettered(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{})
	s.runner(runnerOpts{id: "a"})
	if err := s.queue.Publish(context.Background(), ci.Message{Key: ci.RouteJob, ID: "poison",
		Body: []byte("this is not json")}); err != nil {
		t.Fatal(err)
	}
	// A job without a SHA: runnerd refuses it as invalid on every delivery.
	bad := ci.Job{ID: "nosha-" + randHex(4), Repo: "acme/app", CloneURL: "file:///nonexistent/e2e",
		Ref: "refs/heads/main", Branch: "main", Event: ci.EventPush, Status: ci.StatusQueued, Attempt: 1,
		CreatedAt: time.Now()}
	if _, err := s.store.CreateJob(context.Background(), bad); err != nil {
		t.Fatal(err)
	}
	if err := s.queue.Publish(context.Background(), ci.NewJobMessage(bad)); err != nil {
		t.Fatal(err)
	}
	dead := make(chan ci.Delivery, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go s.queue.Consume(ctx, queue.QueueJobsDead, 4, func(_ context.Context, d ci.Delivery) error {
		dead <- d
		return nil
	})
	got := map[string]bool{}
	for len(got) < 2 {
		select {
		case d := <-dead:
			got[string(d.Body)] = true
		case <-ctx.Done():
			t.Fatalf("dead-lettered only %v", got)
		}
	}
	if !got["this is not json"] || !got[string(ci.NewJobMessage(bad).Body)] {
		t.Fatalf("dead-lettered %v", got)
	}
	j := s.waitStatus(bad.ID, ci.StatusError, 10*time.Second)
	if !strings.Contains(j.Error, "dispatch failed") || !strings.Contains(j.Error, "invalid job") {
		t.Fatalf("error %q, want dispatch failed ... invalid job", j.Error)
	}
}
