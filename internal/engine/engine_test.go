package engine

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor/fake"
	"github.com/narwhal-ci/narwhal/internal/pipeline"
)

func TestRunsStepsInFileOrder(t *testing.T) {
	t.Parallel()
	x := fake.New()
	x.Script("b", fake.Outcome{Output: fake.Lines("hello", "world")})
	obs := &recorder{}
	obs.onDone = func(Report) { // the result is published before cleanup
		if slices.Contains(x.Ops("job1"), "teardown") {
			t.Error("JobFinished after Teardown")
		}
	}
	p := pipe(step("a"), step("b"), step("c"))
	p.Services = []pipeline.Service{{Name: "db", Image: "postgres", Env: map[string]string{"K": "v"}, Command: []string{"serve"}}}
	rep := runJob(t, t.Context(), x, Job{Pipeline: p, Workspace: "/tmp/ws"}, obs)
	wantStatuses(t, rep, ci.StatusSuccess, "a=success b=success c=success")
	if s := x.Calls()[0].Services; len(s) != 1 || s[0].Name != "db" || s[0].Image != "postgres" || s[0].Env["K"] != "v" || s[0].Command[0] != "serve" {
		t.Fatalf("services at setup: %+v", s)
	}
	wantOps(t, x, "setup", "run a", "run b", "run c", "teardown")
	want := "start a,finish a success,start b,finish b success,start c,finish c success,job success"
	if got := strings.Join(obs.events, ","); got != want {
		t.Fatalf("events %s\nwant   %s", got, want)
	}
	if got := obs.log("b"); !slices.Equal(got, []string{"hello", "world"}) {
		t.Fatalf("log of b = %q", got)
	}
	if b, _ := rep.Step("b"); b.Attempts != 1 || b.StartedAt.IsZero() || b.FinishedAt.Before(b.StartedAt) {
		t.Fatalf("step b = %+v", b)
	}
}

func TestDiamondRunsMiddleStepsConcurrently(t *testing.T) {
	t.Parallel()
	x := fake.New()
	hook := meet() // b and c each wait until the other is running
	x.Script("b", fake.Outcome{Hook: hook})
	x.Script("c", fake.Outcome{Hook: hook})
	p := pipe(step("a"), step("b", "a"), step("c", "a"), step("d", "b", "c"))
	p.Timeout = 10 * time.Second // a serial engine would end here, not hang
	rep := runJob(t, t.Context(), x, Job{Pipeline: p}, nil)
	wantStatuses(t, rep, ci.StatusSuccess, "a=success b=success c=success d=success")
	if got := x.MaxConcurrent(); got != 2 {
		t.Fatalf("max concurrent steps %d, want 2", got)
	}
	ops := x.Ops("job1")
	if ops[1] != "run a" || ops[4] != "run d" {
		t.Fatalf("order %v: want a first and d last", ops)
	}
}

func TestMaxParallelLimitsSteps(t *testing.T) {
	t.Parallel()
	x := fake.New()
	x.Default(fake.Outcome{Hook: meet()}) // steps pass two by two
	p := pipe(step("a"), step("b", none...), step("c", none...), step("d", none...))
	p.Timeout = 10 * time.Second
	rep, err := (&Engine{Exec: x, MaxParallel: 2}).Run(t.Context(), Job{ID: "job1", Pipeline: p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantStatuses(t, rep, ci.StatusSuccess, "a=success b=success c=success d=success")
	if got := x.MaxConcurrent(); got != 2 {
		t.Fatalf("max concurrent steps %d, want 2", got)
	}
}

func TestFailureSkipsLaterStepsUnlessWhenStatus(t *testing.T) {
	t.Parallel()
	x := fake.New()
	x.Script("b", fake.Outcome{ExitCode: 2})
	failure := step("notify")
	failure.When.Status = []string{"failure"}
	always := step("cleanup")
	always.When.Status = []string{"always"}
	success := step("deploy")
	success.When.Status = []string{"success"}
	p := pipe(step("a"), step("b"), step("c"), failure, always, success)
	obs := &recorder{}
	rep := runJob(t, t.Context(), x, Job{Pipeline: p}, obs)
	wantStatuses(t, rep, ci.StatusFailure, "a=success b=failure c=skipped notify=success cleanup=success deploy=skipped")
	wantOps(t, x, "setup", "run a", "run b", "run notify", "run cleanup", "teardown")
	if b, _ := rep.Step("b"); b.ExitCode != 2 || b.Reason != "exit code 2" || b.AllowedFailure {
		t.Fatalf("step b = %+v", b)
	}
	if c, _ := rep.Step("c"); c.Reason != "an earlier step failed" {
		t.Fatalf("step c reason %q", c.Reason)
	}
	if got := obs.log("b"); !slices.Equal(got, []string{"[narwhal] exit code 2"}) {
		t.Fatalf("log of b = %q", got)
	}
}

func TestWhenStatusFailureSkippedOnSuccess(t *testing.T) {
	t.Parallel()
	x := fake.New()
	failure := step("notify")
	failure.When.Status = []string{"failure"}
	always := step("cleanup")
	always.When.Status = []string{"always"}
	rep := runJob(t, t.Context(), x, Job{Pipeline: pipe(step("a"), failure, always)}, nil)
	wantStatuses(t, rep, ci.StatusSuccess, "a=success notify=skipped cleanup=success")
	if n, _ := rep.Step("notify"); n.Reason != "runs only after a failure" {
		t.Fatalf("reason %q", n.Reason)
	}
}

func TestBranchAndEventFilters(t *testing.T) {
	t.Parallel()
	release := step("release")
	release.When.Branch = []string{"release/*"}
	pr := step("pr-only")
	pr.When.Event = []string{"pull_request"}
	tests := []struct {
		branch, event, want string
	}{
		{"main", "push", "build=success release=skipped pr-only=skipped after=success"},
		{"release/1", "push", "build=success release=success pr-only=skipped after=success"},
		{"release/1/x", "pull_request", "build=success release=skipped pr-only=success after=success"},
	}
	for _, tt := range tests {
		t.Run(tt.branch+"/"+tt.event, func(t *testing.T) {
			t.Parallel()
			rep := runJob(t, t.Context(), fake.New(), Job{Branch: tt.branch, Event: tt.event,
				Pipeline: pipe(step("build"), release, pr, step("after"))}, nil)
			wantStatuses(t, rep, ci.StatusSuccess, tt.want)
		})
	}
}

func TestPipelineWhenSkipsTheJob(t *testing.T) {
	t.Parallel()
	x := fake.New()
	p := pipe(step("a"), step("b"))
	p.When.Branch = []string{"main"}
	obs := &recorder{}
	rep := runJob(t, t.Context(), x, Job{Branch: "dev", Event: "push", Pipeline: p}, obs)
	wantStatuses(t, rep, ci.StatusSuccess, "a=skipped b=skipped")
	if !rep.Skipped {
		t.Fatal("Report.Skipped not set")
	}
	wantOps(t, x)
	if got := strings.Join(obs.events, ","); got != "finish a skipped,finish b skipped,job success" {
		t.Fatalf("events %s", got)
	}
}

// TestWhenRefAndPaths: the pipeline's and the steps' when.ref and when.path
// see the job's ref and changed files; unknown files match every path filter.
func TestWhenRefAndPaths(t *testing.T) {
	t.Parallel()
	docs, site, release := step("docs"), step("site", none...), step("release", none...)
	docs.When.Path = &pipeline.PathFilter{Include: []string{"docs/**"}}
	site.When.Path = &pipeline.PathFilter{Include: []string{"site/**"}, Exclude: []string{"site/**/*.tmp"}}
	release.When.Ref = []string{"refs/tags/v*"}
	p := func() *pipeline.Pipeline { return pipe(step("build"), docs, site, release) }
	changed := []string{"docs/guide/intro.md", "site/cache/x.tmp"}
	rep := runJob(t, t.Context(), fake.New(), Job{Event: "push", Ref: "refs/heads/main", Pipeline: p(),
		ChangedFiles: changed, ChangedKnown: true}, nil)
	wantStatuses(t, rep, ci.StatusSuccess, "build=success docs=success site=skipped release=skipped")
	rep = runJob(t, t.Context(), fake.New(), Job{Event: "tag", Ref: "refs/tags/v2.0", Pipeline: p()}, nil)
	wantStatuses(t, rep, ci.StatusSuccess, "build=success docs=success site=success release=success")
	only := p()
	only.When.Path = &pipeline.PathFilter{Include: []string{"src/**"}}
	rep = runJob(t, t.Context(), fake.New(), Job{Event: "push", Pipeline: only, ChangedFiles: changed, ChangedKnown: true}, nil)
	if !rep.Skipped {
		t.Errorf("a pipeline whose when.path matches no changed file is skipped: %+v", rep)
	}
}

func TestRetry(t *testing.T) {
	t.Parallel()
	x := fake.New()
	x.Script("flaky", fake.Outcome{ExitCode: 1, Output: fake.Lines("try")}, fake.Outcome{Output: fake.Lines("try")})
	x.Script("broken", fake.Outcome{ExitCode: 3})
	flaky := step("flaky")
	flaky.Retry = 2
	broken := step("broken", none...)
	broken.Retry = 1
	obs := &recorder{}
	rep := runJob(t, t.Context(), x, Job{Pipeline: pipe(flaky, broken)}, obs)
	wantStatuses(t, rep, ci.StatusFailure, "flaky=success broken=failure")
	if f, _ := rep.Step("flaky"); f.Attempts != 2 {
		t.Fatalf("flaky attempts %d, want 2", f.Attempts)
	}
	if got, want := obs.log("flaky"), []string{"try", "[narwhal] exit code 1", "[narwhal] retry 1/2", "try"}; !slices.Equal(got, want) {
		t.Fatalf("log of flaky %q, want %q", got, want)
	}
	if b, _ := rep.Step("broken"); b.Attempts != 2 || b.ExitCode != 3 {
		t.Fatalf("broken = %+v", b)
	}
}

func TestAllowFailure(t *testing.T) {
	t.Parallel()
	x := fake.New()
	x.Script("lint", fake.Outcome{ExitCode: 1})
	lint := step("lint")
	lint.AllowFailure = true
	rep := runJob(t, t.Context(), x, Job{Pipeline: pipe(step("build"), lint, step("test"))}, nil)
	wantStatuses(t, rep, ci.StatusSuccess, "build=success lint=failure test=success")
	if l, _ := rep.Step("lint"); !l.AllowedFailure {
		t.Fatalf("lint = %+v, want AllowedFailure", l)
	}
}

func TestSecretsAreMaskedAndPassed(t *testing.T) {
	t.Parallel()
	x := fake.New()
	x.Script("deploy", fake.Outcome{Output: []string{"token=hun", "ter2\nother=s3cr", "et\n"}, Err: errors.New("bad hunter2")})
	deploy := step("deploy")
	deploy.Secrets = []string{"TOKEN"}
	obs := &recorder{}
	rep := runJob(t, t.Context(), x, Job{Pipeline: pipe(deploy),
		Secrets: map[string]string{"TOKEN": "hunter2", "UNUSED": "s3cret"}}, obs)
	want := []string{"token=********", "other=********", "[narwhal] executor: bad ********"}
	if got := obs.log("deploy"); !slices.Equal(got, want) {
		t.Fatalf("log %q, want %q", got, want)
	}
	if rep.Error != "step deploy: bad ********" {
		t.Fatalf("error %q", rep.Error)
	}
	if env := x.Calls()[1].Step.Env; env["TOKEN"] != "hunter2" || env["CI_STEP_NAME"] != "deploy" || env["UNUSED"] != "" {
		t.Fatalf("env %v", env)
	}
}

// TestMaskedValuesReachNoStep: Job.Masked (the clone token) is masked like
// a secret but is in no step's environment.
func TestMaskedValuesReachNoStep(t *testing.T) {
	t.Parallel()
	x := fake.New()
	x.Script("a", fake.Outcome{Output: []string{"clone ghs_tok1 done\n"}})
	obs := &recorder{}
	runJob(t, t.Context(), x, Job{Pipeline: pipe(step("a")), Masked: []string{"ghs_tok1"}}, obs)
	if got, want := obs.log("a"), []string{"clone ******** done"}; !slices.Equal(got, want) {
		t.Fatalf("log %q, want %q", got, want)
	}
	for k, v := range x.Calls()[1].Step.Env {
		if strings.Contains(v, "ghs_tok1") {
			t.Errorf("step env %s holds the masked value", k)
		}
	}
}

func TestLogCap(t *testing.T) {
	t.Parallel()
	x := fake.New()
	x.Script("a", fake.Outcome{Output: fake.Lines("a1", "a2", "a3", "a4", "a5", "a6", "a7")})
	obs := &recorder{}
	_, err := (&Engine{Exec: x, LogLimit: 12}).Run(t.Context(), Job{ID: "job1", Pipeline: pipe(step("a"))}, obs)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := obs.log("a"), []string{"a1", "a2", "[narwhal] 9 bytes elided", "a6", "a7"}; !slices.Equal(got, want) {
		t.Fatalf("log %q, want %q", got, want)
	}
}

func TestSecretsAreMaskedInStepNames(t *testing.T) {
	t.Parallel()
	x := fake.New()
	obs := &recorder{}
	rep := runJob(t, t.Context(), x, Job{Pipeline: pipe(step("push-hunter2")),
		Secrets: map[string]string{"TOKEN": "hunter2"}}, obs)
	for _, e := range obs.events {
		if strings.Contains(e, "hunter2") {
			t.Errorf("observer event %q shows the secret", e)
		}
	}
	if len(rep.Steps) != 1 || obs.report.Steps[0].Name != "push-********" {
		t.Errorf("reported step names %+v", obs.report.Steps)
	}
	if got := x.Calls()[1].Step.Name; got != "push-hunter2" {
		t.Errorf("the executor ran %q, want the real name", got)
	}
}

func TestWithheldSecretFailsTheStep(t *testing.T) {
	t.Parallel()
	x := fake.New()
	deploy := step("deploy")
	deploy.Secrets = []string{"TOKEN", "PUBLIC"}
	obs := &recorder{}
	rep := runJob(t, t.Context(), x, Job{Pipeline: pipe(deploy), Secrets: map[string]string{"PUBLIC": "public-value"},
		Withheld: []string{"TOKEN"}}, obs)
	if rep.Status != ci.StatusError || rep.Error != "step deploy: secret TOKEN is not available to pull requests from forks" {
		t.Fatalf("report %s %q", rep.Status, rep.Error)
	}
	wantOps(t, x, "setup", "teardown")
}
