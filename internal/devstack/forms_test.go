package devstack

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/narwhal-ci/narwhal/internal/apiclient"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor/fake"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// browser drives Debian's headless Chromium over the DevTools protocol
// (chromedp), accepting every confirm() the page asks.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		testenv.Missing(t, "chromium ("+chromiumPath+", Debian package chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelBrowser(); cancelAlloc() })
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return ctx
}

// TestRepoFormsInBrowser uses the repository page as a person would: sets a
// secret (for forks too) and adds a registry through its forms, deletes a
// secret with its button, and the API then holds exactly that, while the
// page never shows a value or password and clears what was typed.
func TestRepoFormsInBrowser(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	cfg := testConfig(t)
	cfg.Exec = fake.New()
	s, _ := startStack(t, cfg)
	setRepoSecrets(t, s, "acme/app", "registry.acme.test:5000", "acme-bot", "old-registry-pw")

	const typedValue, typedPassword = "typed-s3cret-v4lue", "typed-registry-pw"
	type css = chromedp.CSS
	err := chromedp.Do(ctx,
		chromedp.Navigate(s.Info().URL+"#/repos/acme/app"),
		chromedp.WaitVisible(css(`tr[data-secret="DEPLOY_TOKEN"]`)),
		chromedp.SendKeys(css(`#secret-form input[name=name]`), "NEW_SECRET"),
		chromedp.SendKeys(css(`#secret-form input[name=value]`), typedValue),
		chromedp.Click(css(`#secret-form input[name=allow]`)),
		chromedp.Click(css(`#secret-form button[type=submit]`)),
		chromedp.WaitVisible(css(`tr[data-secret="NEW_SECRET"]`)),
		chromedp.SendKeys(css(`#registry-form input[name=host]`), "ghcr.io"),
		chromedp.SendKeys(css(`#registry-form input[name=username]`), "octo-bot"),
		chromedp.SendKeys(css(`#registry-form input[name=password]`), typedPassword),
		chromedp.Click(css(`#registry-form button[type=submit]`)),
		chromedp.WaitVisible(css(`tr[data-registry="ghcr.io"]`)),
		chromedp.Click(css(`button[data-delete="secret DEPLOY_TOKEN"]`)),
		chromedp.WaitNotPresent(css(`tr[data-secret="DEPLOY_TOKEN"]`)),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	left, err := chromedp.Run(ctx, chromedp.Value(css(`#secret-form input[name=value]`)))
	if err != nil {
		t.Fatal(err)
	}
	dom, err := chromedp.Run(ctx, chromedp.OuterHTML(css("html")))
	if err != nil {
		t.Fatal(err)
	}
	if left != "" {
		t.Errorf("the value field keeps %q after the secret was set", left)
	}
	for _, leak := range []string{typedValue, typedPassword, deployToken, publicNote} {
		if strings.Contains(dom, leak) {
			t.Errorf("the page shows %q", leak)
		}
	}
	wantStored(t, s, typedValue)
}

// wantStored checks, through the API, what the forms changed.
func wantStored(t *testing.T, s *Stack, value string) {
	t.Helper()
	c, err := apiclient.New(s.Info().APIURL, s.APIToken(), "test")
	if err != nil {
		t.Fatal(err)
	}
	list, err := c.Secrets(context.Background(), "acme/app")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, e := range list {
		names[e.Name] = e.AllowPullRequests
	}
	if allow, ok := names["NEW_SECRET"]; !ok || !allow || len(names) != 2 {
		t.Errorf("secrets after the forms: %+v; want NEW_SECRET (allowed) and PUBLIC_NOTE", list)
	}
	if got, _ := s.vault.Resolve(context.Background(), "acme/app"); got.Secrets["NEW_SECRET"].Value != value {
		t.Errorf("NEW_SECRET holds %q, want what was typed", got.Secrets["NEW_SECRET"].Value)
	}
	regs, err := c.Registries(context.Background(), "acme/app")
	if err != nil || len(regs) != 2 || regs[0].Host != "ghcr.io" || regs[0].Username != "octo-bot" {
		t.Errorf("registries after the form: %+v, %v", regs, err)
	}
}

// shownJob waits until the page shows a job other than id, and returns it.
func shownJob(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var shown string // a read may meet the node as the page re-renders it: read again
		if shown, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#job-id`))); err == nil {
			if shown = strings.TrimSpace(shown); shown != "" && shown != id {
				return shown
			}
		}
	}
	t.Fatalf("the page still shows job %s (last read: %v)", id, err)
	return ""
}

// TestRerunFromStepInBrowser clicks "Re-run from here" on the failed step of
// a finished job: the page moves to a new job that re-runs the first from
// that step, its dependency done, not run again.
func TestRerunFromStepInBrowser(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	ex := fake.New()
	ex.Script("test", fake.Outcome{ExitCode: 1})
	s, job := finishedJob(t, ex, twoSteps, ci.StatusFailure)
	id := job.ID
	type css = chromedp.CSS
	err := chromedp.Do(ctx,
		chromedp.Navigate(s.Info().URL+"#/jobs/"+id),
		chromedp.WaitVisible(css(`button[data-rerun="test"]`)),
		chromedp.Click(css(`button[data-rerun="test"]`)),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	next := shownJob(t, ctx, id) // the new job's page (which may end with its own button)
	var j struct {
		ParentID string `json:"parent_id"`
		Resume   *struct {
			From string            `json:"from"`
			Done map[string]string `json:"done"`
		} `json:"resume"`
	}
	apiGet(t, s, "/jobs/"+next, &j)
	if j.ParentID != id || j.Resume == nil || j.Resume.From != "test" || j.Resume.Done["build"] == "" {
		t.Fatalf("the button made job %s: %+v (resume %+v)", next, j, j.Resume)
	}
}
