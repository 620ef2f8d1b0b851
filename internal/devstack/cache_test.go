package devstack

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/narwhal-ci/narwhal/internal/api"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/github"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// cached is a pipeline whose one step keeps its "dependencies" in a cache
// keyed on deps.lock and uploads what it built: the first run fetches (a
// value no later run would write again), a later run reads the cached one,
// and the artifact names the fetch it was built from.
const cached = `name: cached
image: %s
steps:
  - name: build
    cache:
      key: deps-{{ checksum "deps.lock" }}
      paths: [.cache/deps]
    artifacts:
      paths: [dist/*.txt]
      expire_in: 1d
    commands:
      - if [ -f .cache/deps/fetched ]; then echo "cached $(cat .cache/deps/fetched)"; else mkdir -p .cache/deps && echo "fetch-$(cat /proc/sys/kernel/random/uuid)" > .cache/deps/fetched; fi
      - mkdir -p dist && echo "app built with $(cat .cache/deps/fetched)" > dist/app.txt
`

// TestCacheAndArtifactsAcrossRuns runs a pipeline with cache: and
// artifacts: twice for one repository, in real containers on two runners
// that share the stack's blob store: the first job misses, saves and
// uploads; the second hits and its step reads the file the first fetched.
// Each job's artifact is listed with the SHA-256 of the bytes its download
// returns, the job page lists it with a link, and the monitor's artifact
// sweep, driven past the expiry, deletes it.
func TestCacheAndArtifactsAcrossRuns(t *testing.T) {
	t.Parallel()
	image := testenv.Image(t)
	cfg := testConfig(t)
	cfg.Executor, cfg.RunnerName = ExecDocker, uniqueName(t, "c")
	s, _ := startStack(t, cfg)
	repo := newLocalRepo(t)
	yml := fmt.Sprintf(cached, image)

	first := runJob(t, s, repo.commit(map[string]string{"narwhal.yml": yml, "deps.lock": "left-pad 1.3.0\n"}))
	log1 := jobLog(t, s, first.ID)
	fetched := regexp.MustCompile(`fetch-[0-9a-f-]{36}`).FindString(readArtifact(t, s, first, "dist/app.txt"))
	use := first.Steps[0].Caches
	if !strings.Contains(log1, "cache miss") || strings.Contains(log1, "cache hit") || fetched == "" ||
		len(use) != 1 || use[0].Hit || !use[0].Saved || !strings.HasPrefix(use[0].Key, "deps-") {
		t.Fatalf("first job: caches %+v, fetched %q\n%s", use, fetched, log1)
	}

	// A later push of the same repository, deps.lock unchanged.
	second := runJob(t, s, repo.commit(map[string]string{"README": "a change that is not a dependency\n"}))
	log2 := jobLog(t, s, second.ID)
	use = second.Steps[0].Caches
	if !strings.Contains(log2, "cache hit "+first.Steps[0].Caches[0].Key) || !strings.Contains(log2, "build | cached "+fetched) ||
		len(use) != 1 || !use[0].Hit || use[0].Saved || use[0].Key != first.Steps[0].Caches[0].Key {
		t.Fatalf("second job does not restore the first's cache (%s): caches %+v\n%s", fetched, use, log2)
	}
	if got := readArtifact(t, s, second, "dist/app.txt"); got != "app built with "+fetched+"\n" {
		t.Errorf("second job's artifact: %q", got)
	}

	// The monitor (every 200 ms here, and once more now) has kept the
	// artifacts, which expire tomorrow; its sweep two days on deletes both.
	if res, err := s.ctl.Monitor(t.Context()); err != nil || res.ArtifactsExpired != 0 {
		t.Fatalf("monitor today: %+v, %v; want no artifact expired", res, err)
	}
	if status, _ := download(t, s, first.ID, "dist/app.txt"); status != http.StatusOK {
		t.Fatalf("download after today's monitor: %d", status)
	}
	n, err := s.sweepArtifacts(t.Context(), time.Now().Add(48*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("sweep two days on: %d deleted, %v; want the 2 artifacts", n, err)
	}
	if status, body := download(t, s, first.ID, "dist/app.txt"); status != http.StatusGone {
		t.Errorf("download of a swept artifact: %d %s, want 410", status, body)
	}
	// Listed still (the record keeps it until its expiry), with its link.
	jobPageListsArtifact(t, s, second.ID, "dist/app.txt")
}

// runJob triggers c and returns the job once it succeeded.
func runJob(t *testing.T, s *Stack, c github.Commit) ci.Job {
	t.Helper()
	id, err := s.Trigger(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	j := waitJob(t, s, id, 2*time.Minute)
	if j.Status != ci.StatusSuccess || len(j.Steps) != 1 {
		t.Fatalf("job %s: %s (%s), steps %+v\n%s", id, j.Status, j.Error, j.Steps, jobLog(t, s, id))
	}
	return j
}

// readArtifact checks that job j lists artifact name once, with the size and
// SHA-256 of the bytes its download returns, and returns those bytes.
func readArtifact(t *testing.T, s *Stack, j ci.Job, name string) string {
	t.Helper()
	var list api.ArtifactList
	apiGet(t, s, "/jobs/"+j.ID+"/artifacts", &list)
	if len(list.Artifacts) != 1 || list.Artifacts[0].Name != name || list.Artifacts[0].Step != "build" {
		t.Fatalf("artifacts of job %s: %+v", j.ID, list.Artifacts)
	}
	a := list.Artifacts[0]
	status, body := download(t, s, j.ID, name)
	sum := sha256.Sum256([]byte(body))
	if status != http.StatusOK || a.SHA256 != hex.EncodeToString(sum[:]) || a.Size != int64(len(body)) {
		t.Fatalf("download of %s: %d, %d bytes with sha256 %x; listed %+v", name, status, len(body), sum, a)
	}
	return body
}

// download GETs artifact name of job id through the API.
func download(t *testing.T, s *Stack, id, name string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.Info().APIURL+"/jobs/"+id+"/artifacts/"+name, nil)
	req.Header.Set("Authorization", "Bearer "+s.APIToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("download %s: %v", name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("download %s: %v", name, err)
	}
	return resp.StatusCode, string(body)
}

// jobPageListsArtifact opens the dashboard's page of job id in Chromium and
// waits for the artifact's row with its download link.
func jobPageListsArtifact(t *testing.T, s *Stack, id, name string) {
	t.Helper()
	ctx := browser(t)
	row := chromedp.CSS(fmt.Sprintf(`tr[data-artifact-row=%q] a`, name))
	err := chromedp.Do(ctx, chromedp.Navigate(s.Info().URL+"#/jobs/"+id), chromedp.WaitVisible(row))
	if err != nil {
		t.Fatalf("job page of %s: %v\n%s", id, err, tail(dumpDOM(t, s.Info().URL+"#/jobs/"+id), 60))
	}
	text, err := chromedp.Run(ctx, chromedp.Text(row))
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := chromedp.Run(ctx, chromedp.Attributes(row))
	if err != nil {
		t.Fatal(err)
	}
	href := attrs["href"]
	if text != name || !strings.HasSuffix(href, "/jobs/"+id+"/artifacts/"+name) {
		t.Errorf("artifact link %q → %q", text, href)
	}
}

// TestCacheCapFromConfig: Config.CacheMaxBytes (--cache-max-bytes) reaches
// the runners: under a cap smaller than any archive, nothing is saved, the
// job's record says why, and the next run misses again.
func TestCacheCapFromConfig(t *testing.T) {
	t.Parallel()
	image := testenv.Image(t)
	cfg := testConfig(t)
	cfg.Executor, cfg.RunnerName, cfg.CacheMaxBytes = ExecDocker, uniqueName(t, "k"), 16
	s, _ := startStack(t, cfg)
	repo := newLocalRepo(t)
	files := map[string]string{"narwhal.yml": fmt.Sprintf(cached, image), "deps.lock": "left-pad 1.3.0\n"}
	for _, c := range []github.Commit{repo.commit(files), repo.commit(map[string]string{"README": "again\n"})} {
		j := runJob(t, s, c)
		use := j.Steps[0].Caches
		if len(use) != 1 || use[0].Hit || use[0].Saved || !strings.Contains(use[0].Error, "cap") {
			t.Fatalf("job %s under a 16-byte cap: caches %+v\n%s", j.ID, use, jobLog(t, s, j.ID))
		}
	}
}
