package devstack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/apiclient"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// goTestPackages are the packages of the workload (prometheus/client_golang,
// scripts/go-image.sh) the pipeline tests after building all of them: every
// package but the root one, whose concurrency tests spend about 25 s
// sleeping and spinning whatever the cache holds.
const goTestPackages = "./api/... ./prometheus/collectors/... ./prometheus/promhttp/... " +
	"./prometheus/push/... ./prometheus/testutil/..."

// goJobTimeout bounds one job of the Go workload (a cold one takes 40-90 s
// on a shared 2-core machine).
const goJobTimeout = 15 * time.Minute

// BenchmarkGoCache measures issue 14's cache on a real Go pipeline, in a
// `narwhal dev` stack on Docker with one runner of one slot: `go build ./...`
// and `go test` of most packages of a vendored third-party module, in a Go
// toolchain image built without a registry (scripts/go-image.sh, which also
// makes the module's repository), with GOCACHE in the workspace. Each
// iteration runs, in turn and each from a fresh workspace:
//
//   - cold, no cache: the pipeline without cache:, under a repository of its own;
//   - cold, miss: the pipeline with cache: (key go-{{ checksum "go.sum" }}-{{ arch }},
//     path .cache/go-build) under a repository never seen (caches are per
//     repository, so its cache is empty): a miss, then a save;
//   - warm: the same pipeline and repository again: a hit.
//
// Odd iterations run the cold job without a cache last instead of first, so
// that a drift of the machine's load falls on both cold kinds alike. Every
// job is a new commit of its repository and must succeed, and its record
// must say miss-and-saved, hit, or no cache. It reports the medians (ms,
// trigger to the job's end) of the three, the speedup cold-miss ÷ warm
// (target ≥ 3), the miss overhead (cold-miss − cold-no-cache) ÷
// cold-no-cache in % (target ≤ 10), the medians of the cache's size and of
// the save and restore times the step logs state, and the save's share of
// the cold job in % (what the miss costs by the runner's own clock: on a
// loaded machine the difference of two cold medians is mostly noise).
// (With -benchtime Nx, go test first runs it once with b.N = 1: that round
// warms the image and the page cache, and only the N-round run is
// reported.)
func BenchmarkGoCache(b *testing.B) {
	testenv.Image(b) // skips (or fails in CI) without the test stack's Docker
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	image := goImage(b, ctx)
	work := b.TempDir()
	module := filepath.Join(work, "module")
	if out, err := exec.CommandContext(ctx, goImageScript, "module", module).CombinedOutput(); err != nil {
		b.Fatalf("%s module: %v\n%s", goImageScript, err, out)
	}
	cached, plain := filepath.Join(work, "cached"), filepath.Join(work, "plain")
	goRepo(b, ctx, module, cached, goPipeline(image, true))
	goRepo(b, ctx, module, plain, goPipeline(image, false))
	s, err := Start(ctx, Config{Addr: "127.0.0.1:0", Dir: filepath.Join(work, ".narwhal"), Executor: ExecDocker,
		Runners: 1, Capacity: 1, RunnerName: fmt.Sprintf("gocache%d", os.Getpid())})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { cancel(); _ = s.Wait() }()
	c, err := s.Client()
	if err != nil {
		b.Fatal(err)
	}
	var f goFigures
	b.ResetTimer()
	for i := range b.N {
		f.round(b, s, c, cached, plain, i)
	}
	b.StopTimer()
	pn, pm, pw := median(f.none), median(f.miss), median(f.warm)
	b.ReportMetric(pn, "cold-nocache-ms")
	b.ReportMetric(pm, "cold-miss-ms")
	b.ReportMetric(pw, "warm-ms")
	b.ReportMetric(pm/pw, "speedup")
	b.ReportMetric(100*(pm-pn)/pn, "miss-overhead-%")
	b.ReportMetric(100*median(f.save)/pn, "save-share-%")
	b.ReportMetric(median(f.mb), "cache-MB")
	b.ReportMetric(median(f.save), "save-ms")
	b.ReportMetric(median(f.restore), "restore-ms")
}

// goFigures are BenchmarkGoCache's samples: job times (ms) without a cache,
// with a miss and warm; the cache's size (MB); its save and restore (ms).
type goFigures struct {
	none, miss, warm, mb, save, restore []float64
}

// round runs iteration i: the job without a cache first on even rounds and
// last on odd ones, and a miss then a hit of a repository of its own.
func (f *goFigures) round(b *testing.B, s *Stack, c *apiclient.Client, cached, plain string, i int) {
	nocache := func() {
		f.none = append(f.none, goJob(b, s, c, plain, fmt.Sprintf("local/go-nocache-%d", i), noCache).ms)
	}
	if i%2 == 0 {
		nocache()
	}
	repo := fmt.Sprintf("local/go-cache-%d", i)
	m := goJob(b, s, c, cached, repo, cacheMiss)
	w := goJob(b, s, c, cached, repo, cacheHit)
	f.miss, f.warm = append(f.miss, m.ms), append(f.warm, w.ms)
	f.mb, f.save, f.restore = append(f.mb, m.mb), append(f.save, m.cacheMS), append(f.restore, w.cacheMS)
	if i%2 == 1 {
		nocache()
	}
}

// goImageScript makes the benchmark's image and workload (run from the
// package's directory, as go test does).
const goImageScript = "../../scripts/go-image.sh"

// goImage builds the Go toolchain image unless it exists and returns its name.
func goImage(b *testing.B, ctx context.Context) string {
	cmd := exec.CommandContext(ctx, goImageScript, "image")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("%s image: %v", goImageScript, err)
	}
	return strings.TrimSpace(string(out))
}

// goPipeline is the narwhal.yml of the Go workload, with or without its cache.
func goPipeline(image string, cached bool) string {
	y := "image: " + image + "\n" +
		"env:\n  GOCACHE: /workspace/.cache/go-build # CI_WORKSPACE\n" +
		"steps:\n  - name: build-test\n    timeout: 30m\n    commands:\n" +
		"      - go build ./...\n      - go test " + goTestPackages + "\n"
	if cached {
		y += "    cache:\n      key: go-{{ checksum \"go.sum\" }}-{{ arch }}\n" +
			"      paths: [.cache/go-build]\n      restore_keys: [go-]\n"
	}
	return y
}

// goRepo clones the workload module into dir and writes pipeline as its
// narwhal.yml (goJob commits it).
func goRepo(b *testing.B, ctx context.Context, module, dir, pipeline string) {
	if out, err := exec.CommandContext(ctx, "git", "clone", "-q", module, dir).CombinedOutput(); err != nil {
		b.Fatalf("git clone: %v: %s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, pipelineFile), []byte(pipeline), 0o644); err != nil {
		b.Fatal(err)
	}
}

// cacheWant is what a job's step must have done with its cache.
type cacheWant int

const (
	noCache   cacheWant = iota // no cache configured: no cache use recorded
	cacheMiss                  // a miss, then a save
	cacheHit                   // a hit
)

// goRevision numbers the revisions goJob commits.
var goRevision int

// goRun is one job's figures: its time, and for a cached step the size of
// the cache (MB) and the restore or save time (ms) its log states.
type goRun struct {
	ms, mb, cacheMS float64
}

// goJob commits a new revision of the repository in dir (a push of the same
// commit again would be the same job), sends its push as repository repo,
// waits for the job to succeed and checks its cache use against want. The
// revision changes one file that neither the build nor the tests read.
func goJob(b *testing.B, s *Stack, c *apiclient.Client, dir, repo string, want cacheWant) goRun {
	ctx := context.Background()
	goRevision++
	if err := os.WriteFile(filepath.Join(dir, "bench-revision"), []byte(strconv.Itoa(goRevision)), 0o644); err != nil {
		b.Fatal(err)
	}
	commit, err := commitAll(ctx, dir, fmt.Sprintf("bench %d", goRevision))
	if err != nil {
		b.Fatal(err)
	}
	commit.Repo = repo
	sent := time.Now()
	id, err := s.Trigger(ctx, commit)
	if err != nil {
		b.Fatal(err)
	}
	j := goWait(b, c, id)
	run := goRun{ms: float64(time.Since(sent).Microseconds()) / 1000}
	if len(j.Steps) != 1 {
		b.Fatalf("job %s: %d steps, want 1", id, len(j.Steps))
	}
	if err := checkCache(j.Steps[0].Caches, want); err != nil {
		chunk, _ := c.Logs(ctx, id, 0, false)
		b.Fatalf("job %s (%s): %v; its log ends:\n%s", id, repo, err, tail(chunk.Data, 40))
	}
	if want != noCache {
		run.mb, run.cacheMS = cacheLogFigures(b, c, id, j.Steps[0].Name, want)
	}
	b.Logf("%s %s: %.1f s (cache %.0f MB, %.0f ms)", repo, [...]string{"no cache", "miss", "hit"}[want], run.ms/1000, run.mb, run.cacheMS)
	return run
}

// goWait polls the API until job id is final and returns it; a job that did
// not succeed fails the benchmark with the end of its log.
func goWait(b *testing.B, c *apiclient.Client, id string) ci.Job {
	ctx := context.Background()
	for deadline := time.Now().Add(goJobTimeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		j, err := c.Job(ctx, id)
		if err != nil || !j.Status.Final() {
			continue
		}
		if j.Status != ci.StatusSuccess {
			chunk, _ := c.Logs(ctx, id, 0, false)
			b.Fatalf("job %s ended %s (%s); its log ends:\n%s", id, j.Status, j.Error, tail(chunk.Data, 40))
		}
		return j
	}
	b.Fatalf("job %s not final within %s", id, goJobTimeout)
	return ci.Job{}
}

// checkCache says how uses differs from want, or nil.
func checkCache(uses []ci.CacheUse, want cacheWant) error {
	switch {
	case want == noCache && len(uses) == 0:
		return nil
	case len(uses) != 1:
		return fmt.Errorf("cache uses %+v, want one", uses)
	case uses[0].Error != "":
		return fmt.Errorf("cache error: %s", uses[0].Error)
	case want == cacheMiss && (uses[0].Hit || uses[0].Restored != "" || !uses[0].Saved):
		return fmt.Errorf("cache use %+v, want a miss and a save", uses[0])
	case want == cacheHit && (!uses[0].Hit || uses[0].Saved):
		return fmt.Errorf("cache use %+v, want a hit and no save", uses[0])
	}
	return nil
}

// cacheLine is the step log's "cache hit KEY (SIZE, TIME)" or "cache saved
// KEY (SIZE, TIME)" line.
var cacheLine = regexp.MustCompile(`cache (hit|saved) \S+ \(([0-9.]+) ([KMG]iB|B), ([^)]+)\)`)

// cacheLogFigures reads the size (MB) and the time (ms) of the restore
// (cacheHit) or of the save (cacheMiss) from the step's log.
func cacheLogFigures(b *testing.B, c *apiclient.Client, id, step string, want cacheWant) (mb, ms float64) {
	chunk, err := c.StepLogs(context.Background(), id, step, 0, false)
	if err != nil {
		b.Fatal(err)
	}
	verb := map[cacheWant]string{cacheHit: "hit", cacheMiss: "saved"}[want]
	for _, m := range cacheLine.FindAllStringSubmatch(chunk.Data, -1) {
		if m[1] != verb {
			continue
		}
		var size float64
		fmt.Sscan(m[2], &size)
		unit := map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[m[3]]
		took, err := time.ParseDuration(strings.ReplaceAll(m[4], " ", ""))
		if err != nil {
			b.Fatalf("job %s: cache %s line with time %q: %v", id, verb, m[4], err)
		}
		return size * unit / 1e6, float64(took.Microseconds()) / 1000
	}
	b.Fatalf("job %s: no \"cache %s\" line in the log of step %s:\n%s", id, verb, step, chunk.Data)
	return 0, 0
}
