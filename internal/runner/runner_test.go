package runner

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor/fake"
	"github.com/narwhal-ci/narwhal/internal/logstore"
)

func TestJobRunsAndReportsInOrder(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, twoSteps)
	g.exec.Script("build", fake.Outcome{Output: fake.Lines("compiling", "done")})
	g.run(t, "j1", 1)
	final := g.out.final(t, "j1")
	if final.Status != ci.StatusSuccess || final.Attempt != 1 || final.Requeue {
		t.Fatalf("final report: %+v", final)
	}
	want := []string{"job running", "job running 3600s", "step build running", "step build success",
		"step test running", "step test success", "job success"}
	if got := g.out.jobReports(t, "j1"); !slices.Equal(got, want) {
		t.Fatalf("reports:\n got %q\nwant %q", got, want)
	}
	// The log is complete by the time the final state is reported.
	log, complete := g.readLog(t, "j1")
	if !complete || !strings.Contains(log, "build | compiling\nbuild | done\n") {
		t.Fatalf("log (complete=%v):\n%s", complete, log)
	}
	// Reports are numbered 1, 2, 3, ... from the register report on, and
	// carried with key event.<kind> and a unique ID.
	evs := g.out.events(t)
	if first := evs[0]; first.Kind != ci.EventRegister || first.Runner == nil || first.Runner.Capacity != 1 {
		t.Fatalf("first report is not the registration: %+v", first)
	}
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) || ev.RunnerID != "r1" || ev.Time.IsZero() {
			t.Fatalf("report %d: seq %d runner %q time %v", i, ev.Seq, ev.RunnerID, ev.Time)
		}
	}
	ids := map[string]bool{}
	g.out.mu.Lock()
	defer g.out.mu.Unlock()
	for _, m := range g.out.msgs {
		var ev ci.RunnerEvent
		mustUnmarshal(t, m.Body, &ev)
		if m.Key != "event."+string(ev.Kind) || ids[m.ID] || !strings.HasPrefix(m.ID, "r1-") {
			t.Fatalf("message %+v", m)
		}
		ids[m.ID] = true
	}
}

func TestFullRunnerRejects(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{Capacity: 2}, twoSteps)
	release := make(gate)
	g.exec.Script("build", release.outcome())
	g.run(t, "a", 1)
	g.run(t, "b", 1)
	ok, reason, err := g.r.Run(t.Context(), testJob("c", 1))
	if err != nil || ok || reason != "runner full: 2/2 slots busy" {
		t.Fatalf("third job: accepted=%v reason=%q err=%v", ok, reason, err)
	}
	close(release)
	g.out.final(t, "a")
	g.out.final(t, "b")
	if err := g.r.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	g.run(t, "c", 1) // a slot is free again
	if final := g.out.final(t, "c"); final.Status != ci.StatusSuccess {
		t.Fatalf("c: %+v", final)
	}
}

func TestRunIsIdempotentByJobID(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{Capacity: 1}, twoSteps)
	release := make(gate)
	g.exec.Script("build", release.outcome())
	g.run(t, "j", 1)
	g.run(t, "j", 1) // a retry while it runs: accepted, even with the only slot busy
	close(release)
	g.out.final(t, "j")
	if err := g.r.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	g.run(t, "j", 1) // a retry after it finished: accepted, not run again
	if ops := g.exec.Ops("j"); !slices.Equal(ops, []string{"setup", "run build", "run test", "teardown"}) {
		t.Fatalf("ops of j: %q", ops)
	}
	g.run(t, "j", 2) // a requeue: runs again
	g.out.waitFor(t, "attempt 2 final", func(ev ci.RunnerEvent) bool {
		return ev.JobID == "j" && ev.Attempt == 2 && ev.Kind == ci.EventJob && ev.Status.Final()
	})
	if n := strings.Count(strings.Join(g.exec.Ops("j"), ","), "setup"); n != 2 {
		t.Fatalf("want 2 runs of j, got %d setups", n)
	}
	// Each attempt has a log of its own.
	for _, id := range []string{"j", logstore.LogID("j", 2)} {
		if log, complete := g.readLog(t, id); !complete {
			t.Fatalf("log %s (complete=%v):\n%s", id, complete, log)
		}
	}
}

func TestDrainRejectsThenRequeuesAtDeadline(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{Capacity: 2}, twoSteps)
	g.exec.Script("build", make(gate).outcome("working")) // never released
	g.run(t, "slow", 3)
	g.waitRunning(t, "slow", "build")
	if err := g.r.Drain(t.Context(), 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	ok, reason, err := g.r.Run(t.Context(), testJob("new", 1))
	if err != nil || ok || reason != "runner draining" {
		t.Fatalf("run while draining: accepted=%v reason=%q err=%v", ok, reason, err)
	}
	g.run(t, "slow", 3) // a retry of a held job is still accepted
	st, err := g.r.Stats(t.Context())
	if err != nil || st.State != ci.RunnerDraining || !slices.Equal(st.Running, []string{"slow"}) {
		t.Fatalf("stats while draining: %+v %v", st, err)
	}
	final := g.out.final(t, "slow")
	if final.Status != ci.StatusQueued || !final.Requeue || final.Attempt != 3 || !strings.Contains(final.Error, "draining") {
		t.Fatalf("final report of a drained job: %+v", final)
	}
	if err := g.r.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ops := g.exec.Ops("slow"); ops[len(ops)-1] != "teardown" {
		t.Fatalf("ops: %q", ops)
	}
}

func TestDrainLetsRunningJobsFinish(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, twoSteps)
	g.exec.Script("build", fake.Outcome{Delay: 100 * time.Millisecond})
	g.run(t, "j", 1)
	if err := g.r.Drain(t.Context(), 0); err != nil { // 0: the default, minutes
		t.Fatal(err)
	}
	if err := g.r.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if final := g.out.final(t, "j"); final.Status != ci.StatusSuccess || final.Requeue {
		t.Fatalf("final: %+v", final)
	}
	// The drain is reported at once by a heartbeat.
	g.out.waitFor(t, "draining heartbeat", func(ev ci.RunnerEvent) bool {
		return ev.Kind == ci.EventHeartbeat && ev.Runner.State == ci.RunnerDraining
	})
}

func TestCancel(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, twoSteps)
	g.exec.Script("build", make(gate).outcome())
	g.run(t, "j", 1)
	g.waitRunning(t, "j", "build")
	if err := g.r.Cancel(t.Context(), "j"); err != nil {
		t.Fatal(err)
	}
	final := g.out.final(t, "j")
	if final.Status != ci.StatusCancelled || final.Requeue || final.Error != ErrCancelled.Error() {
		t.Fatalf("final: %+v", final)
	}
	want := []string{"job running", "job running 3600s", "step build running", "step build cancelled", "step test cancelled", "job cancelled"}
	if got := g.out.jobReports(t, "j"); !slices.Equal(got, want) {
		t.Fatalf("reports:\n got %q\nwant %q", got, want)
	}
	if err := g.r.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ops := g.exec.Ops("j"); ops[len(ops)-1] != "teardown" {
		t.Fatalf("no teardown after cancel: %q", ops)
	}
	if err := g.r.Cancel(t.Context(), "j"); err != nil {
		t.Fatalf("cancel of a finished job: %v", err)
	}
	if err := g.r.Cancel(t.Context(), "never"); !errors.Is(err, ci.ErrNotFound) {
		t.Fatalf("cancel of an unknown job: %v", err)
	}
}

func TestLabelsMustMatch(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{Labels: []string{"linux"}}, twoSteps)
	job := testJob("gpu", 1)
	job.Labels = []string{"linux", "gpu"}
	ok, reason, err := g.r.Run(t.Context(), job)
	if err != nil || ok || reason != "labels do not match: runner lacks gpu" {
		t.Fatalf("accepted=%v reason=%q err=%v", ok, reason, err)
	}
	if err := g.r.Reload([]string{"linux", "gpu"}, 1); err != nil {
		t.Fatal(err)
	}
	g.run(t, "gpu", 1)
}

func TestReloadCapacity(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, twoSteps)
	release := make(gate)
	g.exec.Script("build", release.outcome())
	defer close(release)
	g.run(t, "a", 1)
	if ok, _, _ := g.r.Run(t.Context(), testJob("b", 1)); ok {
		t.Fatal("second job accepted with one slot")
	}
	if err := g.r.Reload(nil, 2); err != nil {
		t.Fatal(err)
	}
	g.run(t, "b", 1)
	if st, _ := g.r.Stats(t.Context()); st.Capacity != 2 || len(st.Running) != 2 {
		t.Fatalf("stats: %+v", st)
	}
	if err := g.r.Reload(nil, 0); err == nil {
		t.Fatal("capacity 0 accepted")
	}
}

func TestEnvironmentAndSecrets(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{ID: "runner-7"}, `image: busybox
steps:
  - name: deploy
    commands: ["deploy"]
    secrets: [API_KEY]
`)
	g.exec.Script("deploy", fake.Outcome{Output: fake.Lines("key is s3cr3t-value")})
	job := testJob("env", 2)
	job.PR, job.Secrets = 7, map[string]string{"API_KEY": "s3cr3t-value"}
	if ok, _, err := g.r.Run(t.Context(), job); !ok || err != nil {
		t.Fatal(ok, err)
	}
	g.out.final(t, "env")
	runs := g.runs()
	env := runs[len(runs)-1].Step.Env
	want := map[string]string{"CI_REPO": "acme/app", "CI_COMMIT_SHA": job.SHA, "CI_COMMIT_REF": "refs/heads/main",
		"CI_COMMIT_BRANCH": "main", "CI_PR": "7", "CI_JOB_ATTEMPT": "2", "CI_RUNNER_ID": "runner-7",
		"CI_EVENT": "push", "API_KEY": "s3cr3t-value"}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	if log, _ := g.readLog(t, logstore.LogID("env", 2)); !strings.Contains(log, "key is ****") || strings.Contains(log, "s3cr3t") {
		t.Fatalf("secret in the log:\n%s", log)
	}
}

// TestTagJobEnvironmentAndPaths: a tag job's steps see CI_COMMIT_TAG, and
// a step's when.path is matched against the files the job carries.
func TestTagJobEnvironmentAndPaths(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{ID: "runner-8"}, `image: busybox
steps:
  - name: publish
    commands: ["publish"]
  - name: docs
    commands: ["make docs"]
    when:
      path: ["docs/**"]
`)
	job := testJob("tag", 1)
	job.Event, job.Ref, job.ChangedFiles, job.ChangedKnown = ci.EventTag, "refs/tags/v3.1", []string{"src/a.go"}, true
	if ok, _, err := g.r.Run(t.Context(), job); !ok || err != nil {
		t.Fatal(ok, err)
	}
	final := g.out.final(t, "tag")
	if runs := g.runs(); len(runs) != 1 || runs[0].Step.Env["CI_COMMIT_TAG"] != "v3.1" || runs[0].Step.Env["CI_EVENT"] != "tag" {
		t.Fatalf("runs %+v; want publish alone, with CI_COMMIT_TAG=v3.1", runs)
	}
	if final.Status != ci.StatusSuccess {
		t.Errorf("final: %+v", final)
	}
}

// runs are the executor's step runs so far.
func (g *rig) runs() []fake.Call {
	var runs []fake.Call
	for _, c := range g.exec.Calls() {
		if c.Op == fake.OpRun {
			runs = append(runs, c)
		}
	}
	return runs
}

func TestSetupFailureIsAnError(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, twoSteps)
	g.exec.FailSetup(errors.New("no daemon"))
	g.run(t, "j", 1)
	if final := g.out.final(t, "j"); final.Status != ci.StatusError || !strings.Contains(final.Error, "no daemon") {
		t.Fatalf("final: %+v", final)
	}
}

// A job offered again with a later attempt while it still runs here (the
// dispatcher gave this runner up for lost) is not run twice: the running work
// answers for the new attempt, so the dispatcher does not ignore its reports.
func TestRunningJobAdoptsLaterAttempt(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{Capacity: 1}, twoSteps)
	release := make(gate)
	g.exec.Script("build", release.outcome())
	g.run(t, "j", 1)
	g.run(t, "j", 2)
	g.out.waitFor(t, "running for attempt 2", func(ev ci.RunnerEvent) bool {
		return ev.JobID == "j" && ev.Attempt == 2 && ev.Kind == ci.EventJob && ev.Status == ci.StatusRunning
	})
	close(release)
	final := g.out.final(t, "j")
	if final.Attempt != 2 || final.Status != ci.StatusSuccess {
		t.Fatalf("final report %+v, want success for attempt 2", final)
	}
	if n := strings.Count(strings.Join(g.exec.Ops("j"), ","), "setup"); n != 1 {
		t.Fatalf("want 1 run of j, got %d setups", n)
	}
}
