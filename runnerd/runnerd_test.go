package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/logstore/fs"
	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// dockerReady skips (or, in CI, fails) the test when Docker does not answer,
// and returns the test image.
func dockerReady(t *testing.T) string {
	t.Helper()
	image := testenv.Image(t)
	if err := exec.Command("docker", "info").Run(); err != nil {
		testenv.Missing(t, "Docker")
	}
	return image
}

// jobReports lists the job and step reports of id as "job running", "step
// greet success", ... in arrival order.
func jobReports(evs []ci.RunnerEvent, id string) []string {
	var out []string
	for _, ev := range evs {
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

// TestJobRunsInAContainer: a job accepted over gRPC runs in a real
// container from a real clone; its log is readable while it runs and
// complete after; its reports arrive through RabbitMQ in order.
func TestJobRunsInAContainer(t *testing.T) {
	t.Parallel()
	image := dockerReady(t)
	url := testenv.AMQPURL(t)
	prefix := amqpPrefix(t, url)
	evs := consumeEvents(t, url, prefix)
	repo, sha := gitRepo(t, fmt.Sprintf(`image: %s
steps:
  - name: greet
    commands:
      - echo hello from the step
      - sleep 2
      - echo bye from the step
`, image))
	p := startRunnerd(t, daemonOpts{executor: "docker", amqpURL: url, amqpPrefx: prefix})
	id := newJobID("run")
	if ok, reason, err := p.client.Run(t.Context(), repoJob(id, repo, sha)); !ok || err != nil {
		t.Fatalf("run: accepted=%v reason=%q err=%v", ok, reason, err)
	}
	logs := fs.New(filepath.Join(p.dir, "logs"))
	eventually(t, 30*time.Second, "the first line in the log while the step sleeps", func() bool {
		data, complete, err := logs.Read(t.Context(), id, 0, 1<<20)
		if err == nil && strings.Contains(string(data), "bye") {
			t.Fatalf("the log was not readable before the step ended:\n%s", data)
		}
		return err == nil && !complete && strings.Contains(string(data), "greet | hello from the step\n")
	})
	final := evs.final(t, id, 60*time.Second)
	if final.Status != ci.StatusSuccess || final.Attempt != 1 || final.RunnerID != "test-testjobrunsinacontainer" {
		t.Fatalf("final report: %+v", final)
	}
	want := []string{"job running", "job running 3600s", "step greet running", "step greet success", "job success"}
	if got := jobReports(evs.snapshot(), id); !slices.Equal(got, want) {
		t.Fatalf("reports:\n got %q\nwant %q", got, want)
	}
	data, complete, err := logs.Read(t.Context(), id, 0, 1<<20)
	if err != nil || !complete || !strings.Contains(string(data), "greet | bye from the step\n") {
		t.Fatalf("log after the job (complete=%v, err=%v):\n%s", complete, err, data)
	}
	var seqs []uint64
	for _, ev := range evs.snapshot() {
		seqs = append(seqs, ev.Seq)
	}
	if !slices.IsSorted(seqs) || seqs[0] != 1 {
		t.Fatalf("reports out of order: seqs %v", seqs)
	}
}

// TestFullRunnerRejectsAndCancelRemovesContainers: with its one slot busy, a
// runner rejects a second job; Cancel stops the first, which is reported
// cancelled, and its containers are removed.
func TestFullRunnerRejectsAndCancelRemovesContainers(t *testing.T) {
	t.Parallel()
	image := dockerReady(t)
	url := testenv.AMQPURL(t)
	prefix := amqpPrefix(t, url)
	evs := consumeEvents(t, url, prefix)
	repo, sha := gitRepo(t, fmt.Sprintf("image: %s\nsteps:\n  - name: wait\n    commands: [\"sleep 600\"]\n", image))
	p := startRunnerd(t, daemonOpts{executor: "docker", capacity: 1, amqpURL: url, amqpPrefx: prefix})
	id := newJobID("long")
	if ok, reason, err := p.client.Run(t.Context(), repoJob(id, repo, sha)); !ok || err != nil {
		t.Fatalf("run: accepted=%v reason=%q err=%v", ok, reason, err)
	}
	ok, reason, err := p.client.Run(t.Context(), repoJob(newJobID("second"), repo, sha))
	if err != nil || ok || reason != "runner full: 1/1 slots busy" {
		t.Fatalf("second job: accepted=%v reason=%q err=%v", ok, reason, err)
	}
	evs.waitFor(t, 30*time.Second, "step running", func(ev ci.RunnerEvent) bool {
		return ev.JobID == id && ev.Kind == ci.EventStep && ev.Step.Status == "running"
	})
	eventually(t, 20*time.Second, "the step's container", func() bool { return len(jobContainers(t, id)) > 0 })
	if err := p.client.Cancel(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	if final := evs.final(t, id, 30*time.Second); final.Status != ci.StatusCancelled || final.Requeue {
		t.Fatalf("final report: %+v", final)
	}
	eventually(t, 30*time.Second, "the containers removed", func() bool { return len(jobContainers(t, id)) == 0 })
	if err := p.client.Cancel(t.Context(), "never-had-it"); status.Code(err) != codes.NotFound {
		t.Fatalf("cancel of an unknown job: %v", err)
	}
}

// jobContainers lists the IDs of the containers of job id, running or not.
func jobContainers(t *testing.T, id string) []string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-aq", "--filter", "label=io.narwhal.job="+id).Output()
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	return strings.Fields(string(out))
}

// TestSIGTERMDrains: on SIGTERM runnerd stops taking jobs, lets the running
// one finish and report, and exits 0.
func TestSIGTERMDrains(t *testing.T) {
	t.Parallel()
	image := dockerReady(t)
	url := testenv.AMQPURL(t)
	prefix := amqpPrefix(t, url)
	evs := consumeEvents(t, url, prefix)
	repo, sha := gitRepo(t, fmt.Sprintf("image: %s\nsteps:\n  - name: short\n    commands: [\"sleep 2\", \"echo finished\"]\n", image))
	p := startRunnerd(t, daemonOpts{executor: "docker", capacity: 2, amqpURL: url, amqpPrefx: prefix})
	id := newJobID("drain")
	if ok, reason, err := p.client.Run(t.Context(), repoJob(id, repo, sha)); !ok || err != nil {
		t.Fatalf("run: accepted=%v reason=%q err=%v", ok, reason, err)
	}
	evs.waitFor(t, 30*time.Second, "step running", func(ev ci.RunnerEvent) bool {
		return ev.JobID == id && ev.Kind == ci.EventStep && ev.Step.Status == "running"
	})
	p.Signal(syscall.SIGTERM)
	p.WaitHealthz(503)
	ok, reason, err := p.client.Run(t.Context(), repoJob(newJobID("late"), repo, sha))
	if err != nil || ok || reason != "runner draining" {
		t.Fatalf("run while draining: accepted=%v reason=%q err=%v", ok, reason, err)
	}
	if code := p.Wait(60 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if final := evs.final(t, id, 30*time.Second); final.Status != ci.StatusSuccess {
		t.Fatalf("final report: %+v", final)
	}
	evs.waitFor(t, 30*time.Second, "offline heartbeat", func(ev ci.RunnerEvent) bool {
		return ev.Kind == ci.EventHeartbeat && ev.Runner.State == ci.RunnerOffline
	})
}

// TestCallsNeedTheToken: a call without a token or with a wrong one is
// refused with Unauthenticated.
func TestCallsNeedTheToken(t *testing.T) {
	t.Parallel()
	p := startRunnerd(t, daemonOpts{})
	if _, err := p.client.Stats(t.Context()); err != nil {
		t.Fatalf("stats with the token: %v", err)
	}
	wrong, err := rpc.Dial(t.Context(), p.GRPC, rpc.ClientConfig{CAPEM: certPEM, Token: mustToken(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer wrong.Close()
	if _, err := wrong.Stats(t.Context()); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("wrong token: %v", err)
	}
	if _, _, err := wrong.Run(t.Context(), repoJob("x", "file:///r", strings.Repeat("a", 40))); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("run with a wrong token: %v", err)
	}
	if err := statsWithoutToken(t.Context(), p.GRPC); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no token: %v", err)
	}
}

// TestSIGHUPReloadsLabelsAndCapacity rewrites the configuration file and
// sends SIGHUP: Stats shows the new labels and capacity.
func TestSIGHUPReloadsLabelsAndCapacity(t *testing.T) {
	t.Parallel()
	p := startRunnerd(t, daemonOpts{capacity: 1, labels: []string{"linux"}})
	st, err := p.client.Stats(t.Context())
	if err != nil || st.Capacity != 1 || !slices.Equal(st.Labels, []string{"linux"}) || st.Version != "test" {
		t.Fatalf("stats: %+v %v", st, err)
	}
	writeFile(t, p.config, []byte(p.configYAML(daemonOpts{capacity: 3, labels: []string{"linux", "gpu"}})))
	p.Signal(syscall.SIGHUP)
	eventually(t, 10*time.Second, "the new capacity", func() bool {
		st, err = p.client.Stats(t.Context())
		return err == nil && st.Capacity == 3 && slices.Equal(st.Labels, []string{"linux", "gpu"})
	})
	if v := p.metric("narwhal_runner_slots"); v != 3 {
		t.Fatalf("narwhal_runner_slots = %v", v)
	}
}

// TestScaleModeRunsJobsWithoutCloning runs a burst of jobs through the
// scale-test path: all succeed and are counted.
func TestScaleModeRunsJobsWithoutCloning(t *testing.T) {
	t.Parallel()
	p := startRunnerd(t, daemonOpts{scale: true, capacity: 256})
	const n = 200
	for i := range n {
		job := repoJob(fmt.Sprintf("scale-%d", i), "file:///nowhere", strings.Repeat("a", 40))
		ok, reason, err := p.client.Run(t.Context(), job)
		if err != nil || !ok {
			t.Fatalf("run %d: %v %q %v", i, ok, reason, err)
		}
	}
	eventually(t, 30*time.Second, "the jobs to end", func() bool {
		st, err := p.client.Stats(context.Background())
		return err == nil && len(st.Running) == 0
	})
	if ok := p.metric(`narwhal_runner_jobs_total{status="success"}`); ok != n {
		t.Fatalf("%v of %d jobs succeeded", ok, n)
	}
}

// TestVersion prints the version set at build time.
func TestVersion(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(runnerdBin, "--version").Output()
	if err != nil || strings.TrimSpace(string(out)) != "runnerd test" {
		t.Fatalf("%q %v", out, err)
	}
}

// TestDrainCallFlipsHealth: a Drain call makes runnerd reject jobs, report
// DRAINING and answer 503 on /healthz and NOT_SERVING on gRPC health.
func TestDrainCallFlipsHealth(t *testing.T) {
	t.Parallel()
	p := startRunnerd(t, daemonOpts{})
	if err := p.client.Drain(t.Context(), time.Minute); err != nil {
		t.Fatal(err)
	}
	p.WaitHealthz(503)
	if serving, err := p.client.Health(t.Context()); err != nil || serving {
		t.Fatalf("grpc health: serving=%v err=%v", serving, err)
	}
	st, err := p.client.Stats(t.Context())
	if err != nil || st.State != ci.RunnerDraining {
		t.Fatalf("stats: %+v %v", st, err)
	}
	ok, reason, err := p.client.Run(t.Context(), repoJob(newJobID("late"), "file:///r", strings.Repeat("a", 40)))
	if err != nil || ok || reason != "runner draining" {
		t.Fatalf("run while draining: accepted=%v reason=%q err=%v", ok, reason, err)
	}
}
