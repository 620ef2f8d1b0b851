package devstack

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor/fake"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// TestDashboardStepLogPanes loads the job page in headless Chromium in its
// three log states: all steps (numbered lines of both, each with the time it
// was logged for the hover), one step's pane
// (only its lines, numbered from 1, its tab selected), and a search (only the
// matching line shown, with a count). Each state leaves a screenshot under
// $NARWHAL_ARTEFACTS.
func TestDashboardStepLogPanes(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(chromiumPath); err != nil {
		testenv.Missing(t, "chromium ("+chromiumPath+", Debian package chromium)")
	}
	ex := fake.New()
	ex.Script("build", fake.Outcome{Output: fake.Lines("compiling", "linked narwhal")})
	ex.Script("test", fake.Outcome{Output: fake.Lines("ok  narwhal/engine", "ok  narwhal/runner")})
	s, job := finishedJob(t, ex, twoSteps, ci.StatusSuccess)
	id := job.ID
	jobLog(t, s, id)
	page := func(query, shot string) string {
		return string(chromium(t, s.Info().URL+"#/jobs/"+id+query, "--dump-dom", "--screenshot="+artefact(t, shot)))
	}

	all := page("", "dashboard-log-all.png")
	mustMatch(t, "all steps", all, `<a href="#/jobs/`+id+`" class="tab selected" data-tab="all">all</a>`,
		`data-tab="build" data-status="success">build</a>`, `data-tab="test" data-status="success">test</a>`,
		`<span class="line" data-n="\d+" data-step="build" title="logged by [^"]+" data-at="\d{13}"><span class="st c\d">build</span> linked narwhal`,
		`<span class="line" data-n="\d+" data-step="test" title="logged by [^"]+" data-at="\d{13}"><span class="st c\d">test</span> ok  narwhal/runner`)

	one := page("?step=test", "dashboard-log-step.png")
	mustMatch(t, "test pane", one, `<pre class="log" id="log" data-step="test">`,
		`class="tab selected" data-tab="test"`,
		`<a class="name selected" href="#/jobs/`+id+`\?step=test">test</a>`)
	if strings.Contains(one, "linked narwhal") {
		t.Error("the test pane shows a line of build")
	}
	if !strings.Contains(one, `data-n="1" data-step="test"`) {
		t.Error("the test pane does not number its lines from 1")
	}

	found := page("?q=RUNNER", "dashboard-log-search.png")
	mustMatch(t, "search", found, `<span class="muted" id="log-count">1 of \d+ lines</span>`,
		`<span class="line" data-n="\d+" data-step="test"[^>]*>`+`<span class="st c\d">test</span> ok  narwhal/runner`)
	if !strings.Contains(found, `hidden="">`) {
		t.Error("the search hides no line")
	}
}

// diamond is a pipeline of three depths: build, then test and lint, then report.
const diamond = `name: diamond
image: busybox
steps:
  - name: build
    commands: [echo build]
  - name: test
    depends_on: [build]
    commands: [echo test]
  - name: lint
    depends_on: [build]
    commands: [echo lint]
  - name: report
    depends_on: [test, lint]
    commands: [echo report]
`

// TestDashboardStepGraph: while build runs, the job page already draws every
// step as a graph of depends_on (the later ones pending, a column per depth,
// an edge per dependency); once the job is done, every node is green. Both
// states leave a screenshot under $NARWHAL_ARTEFACTS.
func TestDashboardStepGraph(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(chromiumPath); err != nil {
		testenv.Missing(t, "chromium ("+chromiumPath+", Debian package chromium)")
	}
	release := make(chan struct{})
	ex := fake.New()
	ex.Script("build", fake.Outcome{Output: fake.Lines("compiling"), Hook: func(ctx context.Context) {
		select {
		case <-release:
		case <-ctx.Done():
		}
	}})
	cfg := testConfig(t)
	cfg.Exec = ex
	s, _ := startStack(t, cfg)
	id, err := s.Trigger(context.Background(), newRepo(t, map[string]string{"narwhal.yml": diamond}))
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var j ci.Job
		apiGet(t, s, "/jobs/"+id, &j)
		if len(j.Steps) == 4 && j.Steps[0].Status == ci.StepRunning {
			break // build runs, and the plan is recorded
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: steps %+v", j.Status, j.Steps)
		}
	}
	page := func(shot string) string {
		return string(chromium(t, s.Info().URL+"#/jobs/"+id, "--dump-dom", "--screenshot="+artefact(t, shot)))
	}
	running := page("dashboard-graph-running.png")
	mustMatch(t, "running graph", running,
		`<a href="#/jobs/`+id+`\?step=build" data-node="build" data-status="running">`,
		`data-node="test" data-status="pending">.*<rect class="node s-pending" x="206" y="0"`,
		`data-node="lint" data-status="pending">.*<rect class="node s-pending" x="206" y="46"`,
		`data-node="report" data-status="pending">.*<rect class="node s-pending" x="412" y="0"`,
		`data-edge="build-&gt;test"`, `data-edge="build-&gt;lint"`, `data-edge="test-&gt;report"`, `data-edge="lint-&gt;report"`)
	close(release)
	if j := waitJob(t, s, id, 20*time.Second); j.Status != ci.StatusSuccess {
		t.Fatalf("job %s", j.Status)
	}
	done := page("dashboard-graph-done.png")
	if n := strings.Count(done, `data-status="success"><title>`); n != 4 {
		t.Errorf("%d green nodes once the job is done, want 4", n)
	}
}

// TestDashboardRepoPageAndPages: the job list pages by cursor past its
// newest 50; a repository's page lists the latest job of each branch and
// pull request; commits of GitHub repositories link to GitHub.
func TestDashboardRepoPageAndPages(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(chromiumPath); err != nil {
		testenv.Missing(t, "chromium ("+chromiumPath+", Debian package chromium)")
	}
	s, _ := startStack(t, testConfig(t))
	t0 := time.Now().Add(-time.Hour)
	add := func(n int, branch string, pr int, status ci.Status) ci.Job {
		j := ci.Job{ID: fmt.Sprintf("job%017d", n), Repo: "acme/app", CloneURL: "https://github.com/acme/app.git",
			SHA: fmt.Sprintf("%040x", n), Ref: "refs/heads/" + branch, Branch: branch, PR: pr, Event: ci.EventPush,
			Status: status, Attempt: 1, Message: fmt.Sprintf("change %d", n), CreatedAt: t0.Add(time.Duration(n) * time.Second)}
		if _, err := s.store.CreateJob(context.Background(), j); err != nil {
			t.Fatal(err)
		}
		return j
	}
	for n := 1; n <= 52; n++ {
		add(n, []string{"main", "dev"}[n%2], 0, ci.StatusSuccess)
	}
	pr := add(53, "main", 7, ci.StatusError) // final states only: the stack's monitor leaves them be
	newest := add(54, "main", 0, ci.StatusFailure)

	var first ci.JobPage
	apiGet(t, s, "/jobs", &first)
	home := dumpDOM(t, s.Info().URL+"#/")
	mustMatch(t, "first page", home, `<tr data-job="`+newest.ID+`"`, `id="page-older"`,
		`<a class="mono" href="https://github.com/acme/app/commit/`+newest.SHA+`" target="_blank" rel="noopener noreferrer">`+newest.SHA[:8]+`</a>`)
	older := string(chromium(t, s.Info().URL+"#/?cursor="+first.Cursor, "--dump-dom", "--screenshot="+artefact(t, "dashboard-jobs-older.png")))
	mustMatch(t, "older page", older, `<tr data-job="job00000000000000001"`, `id="page-newest"`)
	if strings.Contains(older, `<tr data-job="`+newest.ID+`"`) || strings.Contains(older, `id="page-older"`) {
		t.Error("the older page shows the newest job, or a further page")
	}

	repo := string(chromium(t, s.Info().URL+"#/repos/acme/app", "--dump-dom", "--screenshot="+artefact(t, "dashboard-repo-branches.png")))
	mustMatch(t, "build numbers", home, `<a href="#/jobs/`+newest.ID+`" class="build-number"> #54</a>`)
	mustMatch(t, "repository page", repo, `<h2><span class="mono" id="repo-name">acme/app</span></h2>`,
		`<tr data-branch="main" data-status="failure">`, `<tr data-branch="#7" data-status="error">`,
		`<tr data-branch="dev" data-status="success"><td class="mono">dev</td>`, `href="#/jobs/`+pr.ID+`"`)
}
