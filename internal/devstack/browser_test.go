package devstack

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor/fake"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// chromiumPath is Debian's chromium, which scripts/teststack.sh installs.
const chromiumPath = "/usr/bin/chromium"

// browserLine is a log line the dashboard must show.
const browserLine = "the dashboard shows this line"

// TestDashboardInBrowser loads the dashboard in headless Chromium after a job
// went through the stack, and checks what its script rendered from the API:
// the job list with the job's status, the runners, and the job page with
// its status, step timeline and log. It keeps a screenshot of the job page
// under $NARWHAL_ARTEFACTS (or the test's temporary directory).
func TestDashboardInBrowser(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(chromiumPath); err != nil {
		testenv.Missing(t, "chromium ("+chromiumPath+", Debian package chromium)")
	}
	ex := fake.New()
	ex.Script("build", fake.Outcome{Output: fake.Lines("compiling", browserLine)})
	s, job := finishedJob(t, ex, twoSteps, ci.StatusSuccess)
	id := job.ID
	jobLog(t, s, id) // the log is complete before the browser reads it

	home := dumpDOM(t, s.Info().URL+"#/")
	mustMatch(t, "job list", home, `<tr data-job="`+id+`" data-status="success">`)
	mustMatch(t, "runners", home, `<tr data-runner="`+s.runners[0].id+`">`, `<tr data-runner="`+s.runners[1].id+`">`)
	mustMatch(t, "figures", home, `id="fig-success"[^>]*><div class="value">100.0%</div>`,
		`id="fig-depth"[^>]*><div class="value">0</div>`, `id="fig-slots"[^>]*><div class="value">0/4</div>`)

	shot := artefact(t, "dashboard-job.png")
	page := string(chromium(t, s.Info().URL+"#/jobs/"+id, "--dump-dom", "--screenshot="+shot))
	mustMatch(t, "job page", page,
		`<span class="badge s-success" id="job-status">success</span>`,
		`<div class="step" data-step="build" data-status="success">`,
		`<div class="step" data-step="test" data-status="success">`,
		`<span class="st c\d">build</span> `+browserLine)
	png, err := os.ReadFile(shot)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 10_000 {
		t.Fatalf("screenshot %s: %d bytes, %v", shot, len(png), err)
	}
	t.Logf("dashboard screenshot: %s", shot)
}

// TestRepoSecretsInBrowser: the repository page of the dashboard lists the
// secrets and registries set through the API by name, with whether forks
// get them, delete buttons and the add forms, and shows no value or
// password.
func TestRepoSecretsInBrowser(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(chromiumPath); err != nil {
		testenv.Missing(t, "chromium ("+chromiumPath+", Debian package chromium)")
	}
	cfg := testConfig(t)
	cfg.Exec = fake.New()
	s, _ := startStack(t, cfg)
	const password = "browser-registry-pw"
	setRepoSecrets(t, s, "acme/app", "registry.acme.test:5000", "acme-bot", password)

	shot := artefact(t, "dashboard-repo.png")
	dom := string(chromium(t, s.Info().URL+"#/repos/acme/app", "--dump-dom", "--screenshot="+shot))
	t.Logf("repository page screenshot: %s", shot)
	mustMatch(t, "repository page", dom,
		`<span class="mono" id="repo-name">acme/app</span>`,
		`<tr data-secret="DEPLOY_TOKEN"><td class="mono">DEPLOY_TOKEN</td><td>no</td>`,
		`<tr data-secret="PUBLIC_NOTE"><td class="mono">PUBLIC_NOTE</td><td>allowed</td>`,
		`<button class="small" data-delete="secret DEPLOY_TOKEN">Delete</button>`,
		`<tr data-registry="registry.acme.test:5000"><td class="mono">registry.acme.test:5000</td><td>acme-bot</td>`,
		`<form class="filters" id="secret-form">`, `<form class="filters" id="registry-form">`)
	for _, leak := range []string{deployToken, publicNote, password} {
		if strings.Contains(dom, leak) {
			t.Errorf("the repository page shows %q", leak)
		}
	}
}

// chromium runs headless Chromium on url with extra flags and returns its
// standard output. Virtual time lets the page's timers and fetches run for
// a few seconds of page time before the dump.
func chromium(t *testing.T, url string, flags ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=5000", "--window-size=1280,900",
	}, flags...)
	cmd := exec.CommandContext(ctx, chromiumPath, append(args, url)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", url, err, tail(stderr.String(), 40))
	}
	return out
}

func dumpDOM(t *testing.T, url string) string {
	t.Helper()
	return string(chromium(t, url, "--dump-dom"))
}

// artefact returns where to keep a test artefact named name: in
// $NARWHAL_ARTEFACTS when set (CI keeps it), else in a temporary directory.
func artefact(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv("NARWHAL_ARTEFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path, err := filepath.Abs(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// mustMatch checks that dom matches every pattern (regular expressions).
func mustMatch(t *testing.T, what, dom string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(dom) {
			t.Errorf("%s: the DOM lacks %s\n%s", what, p, tail(dom, 80))
		}
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}
