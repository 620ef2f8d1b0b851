package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/narwhal-ci/narwhal/internal/api"
	"github.com/narwhal-ci/narwhal/internal/api/apitest"
	blobfs "github.com/narwhal-ci/narwhal/internal/blob/fs"
	"github.com/narwhal-ci/narwhal/internal/ci"
	logfs "github.com/narwhal-ci/narwhal/internal/logstore/fs"
	"github.com/narwhal-ci/narwhal/internal/store/sqlite"
	"github.com/narwhal-ci/narwhal/internal/testenv"
	"github.com/narwhal-ci/narwhal/internal/web"
)

// chromiumPath is Debian's chromium, which scripts/teststack.sh installs.
const chromiumPath = "/usr/bin/chromium"

// browser drives headless Chromium over the DevTools protocol.
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
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelBrowser(); cancelAlloc() })
	return ctx
}

// dashboard serves the page at / and the REST API (over SQLite and a
// directory log and artifact stores) at /api, as narwhal dev does.
func dashboard(t *testing.T) (*httptest.Server, *sqlite.Store, *blobfs.Store) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	blobs, logs := blobfs.New(t.TempDir()), logfs.New(t.TempDir())
	const token = "browser-test-token"
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", api.New(api.Deps{Jobs: st, Runners: st, Ops: apitest.New(st), Logs: logs,
		Artifacts: blobs, Tokens: []string{token}, Logger: slog.New(slog.DiscardHandler)})))
	mux.Handle("/", web.Handler(web.Config{API: "/api", Token: token}))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); st.Close() })
	return srv, st, blobs
}

const tarball = "the tarball's bytes"

// seedDashboard creates job01, whose build step hit its cache and left
// dist/app.tar.gz and whose test step missed its cache and left an expired
// report, and two runners, one under disk pressure.
func seedDashboard(t *testing.T, st *sqlite.Store, blobs *blobfs.Store) {
	t.Helper()
	ctx := context.Background()
	art := func(name, step, content string, expires time.Duration) ci.Artifact {
		sum := sha256.Sum256([]byte(content))
		key := "artifacts/job01/" + strings.ReplaceAll(name, "/", "_")
		if err := blobs.Put(ctx, key, strings.NewReader(content)); err != nil {
			t.Fatal(err)
		}
		return ci.Artifact{Name: name, Step: step, Size: int64(len(content)), SHA256: hex.EncodeToString(sum[:]),
			Key: key, ExpiresAt: time.Now().Add(expires)}
	}
	start := time.Now().Add(-time.Minute)
	_, err := st.CreateJob(ctx, ci.Job{ID: "job01", Repo: "acme/app", SHA: fmt.Sprintf("%040x", 1), Event: ci.EventPush,
		Status: ci.StatusSuccess, Attempt: 1, CreatedAt: start, StartedAt: start, FinishedAt: start.Add(30 * time.Second),
		Steps: []ci.Step{
			{Name: "build", Status: ci.StepSuccess, StartedAt: start, FinishedAt: start.Add(10 * time.Second),
				Caches:    []ci.CacheUse{{Key: "go-3f2a", Hit: true, Restored: "go-3f2a", RestoredBytes: 812e6}},
				Artifacts: []ci.Artifact{art("dist/app.tar.gz", "build", tarball, 7*24*time.Hour)}},
			{Name: "test", Status: ci.StepSuccess, StartedAt: start.Add(10 * time.Second), FinishedAt: start.Add(30 * time.Second),
				Caches:    []ci.CacheUse{{Key: "lint-9", Saved: true, SavedBytes: 40e6}},
				Artifacts: []ci.Artifact{art("old/report.txt", "test", "old", -time.Hour)}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []ci.Runner{
		{ID: "r1", Capacity: 2, State: ci.RunnerActive, DiskUsedPercent: 41.6, FreeDiskBytes: 120e9, LastHeartbeat: time.Now()},
		{ID: "r2", Capacity: 2, State: ci.RunnerActive, DiskUsedPercent: 91, FreeDiskBytes: 4e9, LastHeartbeat: time.Now(),
			DiskPressure: "/var/lib/docker 91% full, above the 85% high watermark; evicting"},
	} {
		if err := st.PutRunner(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
}

// evaluate runs a script in the page and returns its value, awaiting the
// promise it returns.
func evaluate[T any](ctx context.Context, expr string) (T, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// read returns the outer HTML of what sel selects.
func read(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return html
}

// TestJobPageArtifactsAndCaches: the job page lists the artifacts with
// download links (the expired one without), a click downloads through the
// API with the token, and each step shows its cache hit or miss.
func TestJobPageArtifactsAndCaches(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	srv, st, blobs := dashboard(t)
	seedDashboard(t, st, blobs)
	type css = chromedp.CSS
	err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/#/jobs/job01"),
		chromedp.WaitVisible(css(`a[data-artifact="dist/app.tar.gz"]`)),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	attr, err := chromedp.Run(ctx, chromedp.AttributeValue(css(`a[data-artifact="dist/app.tar.gz"]`), "href"))
	if err != nil {
		t.Fatal(err)
	}
	href, artifacts, timeline := attr.Value, read(t, ctx, "#artifacts"), read(t, ctx, "#timeline")
	if href != "/api/jobs/job01/artifacts/dist/app.tar.gz" {
		t.Errorf("the link goes to %q", href)
	}
	for _, want := range []string{`<tr data-artifact-row="old/report.txt" class="expired">`, `<td>build</td><td>19 B</td>`,
		`>expired</span>`, `>in 7d</td>`} {
		if !strings.Contains(artifacts, want) {
			t.Errorf("the artifacts lack %s:\n%s", want, artifacts)
		}
	}
	if strings.Contains(artifacts, `data-artifact="old/report.txt"`) {
		t.Errorf("the expired artifact has a link:\n%s", artifacts)
	}
	for _, want := range []string{`<span class="cache hit" data-cache="go-3f2a" title="cache hit go-3f2a (812 MB)">cache hit</span>`,
		`<span class="cache miss" data-cache="lint-9" title="cache miss lint-9, saved 40.0 MB">cache miss</span>`} {
		if !strings.Contains(timeline, want) {
			t.Errorf("the timeline lacks %s:\n%s", want, timeline)
		}
	}
	if hidden, err := evaluate[bool](ctx, `document.getElementById('error').hidden`); err != nil || !hidden {
		shown, _ := evaluate[string](ctx, `document.getElementById('error').textContent`)
		t.Errorf("the page shows an error: %q (%v)", shown, err)
	}
	clickDownloads(t, ctx)
}

// clickDownloads clicks the artifact's link with the page's saveLink
// recording what it would save, and reads the file the way the page does.
func clickDownloads(t *testing.T, ctx context.Context) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](`window.saved = []; saveLink = (url, name) => saved.push(url.slice(0, 5), name); undefined`),
		chromedp.Click(chromedp.CSS(`a[data-artifact="dist/app.tar.gz"]`)),
		chromedp.Poll[chromedp.Void](`saved.length === 2`),
	)
	if err != nil {
		t.Fatalf("click: %v", err)
	}
	saved, err := evaluate[[]string](ctx, `saved`)
	if err != nil {
		t.Fatal(err)
	}
	if len(saved) != 2 || saved[0] != "blob:" || saved[1] != "app.tar.gz" {
		t.Errorf("the click saved %q, want a blob: URL as app.tar.gz", saved)
	}
	body, err := evaluate[string](ctx, `call('/jobs/job01/artifacts/dist/app.tar.gz').then((r) => r.text())`)
	if err != nil || body != tarball {
		t.Errorf("the download through the page: %q, %v", body, err)
	}
}

// TestRunnersDiskInBrowser: the runners page shows each runner's disk use
// as a bar, and the one under pressure in red with the reason.
func TestRunnersDiskInBrowser(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	srv, st, blobs := dashboard(t)
	seedDashboard(t, st, blobs)
	type css = chromedp.CSS
	err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/#/runners"),
		chromedp.WaitVisible(css(`tr[data-runner="r2"] td.disk.pressure`)),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	ok := read(t, ctx, `tr[data-runner="r1"] td.disk`)
	pressured, err := chromedp.Run(ctx, chromedp.Text(css(`tr[data-runner="r2"] td.disk`)))
	if err != nil {
		t.Fatal(err)
	}
	width, err := evaluate[string](ctx, `document.querySelector('tr[data-runner="r1"] td.disk .fill').style.width`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ok, `data-disk="41.6"`) || !strings.Contains(ok, "42%, 120 GB free") || strings.Contains(ok, "pressure") {
		t.Errorf("r1's disk: %s", ok)
	}
	if width != "41.6%" {
		t.Errorf("r1's bar is %q wide", width)
	}
	if !strings.Contains(pressured, "91%, 4.0 GB free") ||
		!strings.Contains(pressured, "disk pressure: /var/lib/docker 91% full, above the 85% high watermark; evicting") {
		t.Errorf("r2's disk: %q", pressured)
	}
	colour, err := evaluate[string](ctx, `getComputedStyle(document.querySelector('tr[data-runner="r2"] td.disk .fill')).backgroundColor`)
	if err != nil || colour != "rgb(198, 47, 59)" {
		t.Errorf("r2's bar is %q (%v), want the red of --bad", colour, err)
	}
}
