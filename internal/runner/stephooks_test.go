package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/blob"
	"github.com/narwhal-ci/narwhal/internal/blob/blobtest"
	blobfs "github.com/narwhal-ci/narwhal/internal/blob/fs"
	"github.com/narwhal-ci/narwhal/internal/cache"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor/docker"
	"github.com/narwhal-ci/narwhal/internal/logstore"
	logfs "github.com/narwhal-ci/narwhal/internal/logstore/fs"
	"github.com/narwhal-ci/narwhal/internal/pipeline"
	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/snapshot"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// dockerRig is a Runner on the real Docker executor, with a cache and an
// artifact store in directories.
type dockerRig struct {
	r         *Runner
	out       *outbox
	logs      logstore.Store
	cache     blob.Store
	artifacts blob.Store
}

func newDockerRig(t *testing.T, checkout Checkout) *dockerRig {
	t.Helper()
	testenv.Image(t)
	e, err := docker.New(docker.Config{RunnerID: "hooks-" + strings.ToLower(rand8())}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := e.Ping(ctx); err != nil {
		e.Close()
		testenv.Missing(t, "the Docker engine ("+err.Error()+")")
	}
	t.Cleanup(func() {
		e.Sweep(context.Background())
		e.Close()
	})
	g := &dockerRig{out: newOutbox(), logs: logfs.New(t.TempDir()), cache: blobfs.New(t.TempDir()), artifacts: blobfs.New(t.TempDir())}
	r := startRunner(t, Config{ID: "r1", Capacity: 2, WorkDir: t.TempDir()}, Deps{
		Exec: e, Reclaim: e.Reclaim, Reports: g.out, Logs: g.logs, Checkout: checkout,
		Cache: g.cache, Artifacts: g.artifacts,
	}, 30*time.Second)
	g.r = r
	return g
}

func rand8() string {
	var b [4]byte
	f, _ := os.Open("/dev/urandom")
	f.Read(b[:])
	f.Close()
	return hex.EncodeToString(b[:])
}

// goCheckout checks out files and returns a pipeline of one step "build"
// running commands, with the cache and artifacts given.
type goCheckout struct {
	files     map[string]string
	commands  []string
	cache     *pipeline.Cache
	artifacts *pipeline.Artifacts
}

func (c goCheckout) Checkout(_ context.Context, dir string, _ rpc.Job) (*pipeline.Pipeline, error) {
	for name, data := range c.files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			return nil, err
		}
	}
	yml := "image: " + os.Getenv("NARWHAL_TEST_IMAGE") + "\nsteps:\n  - name: build\n    commands:\n"
	for _, c := range c.commands {
		yml += fmt.Sprintf("      - %q\n", c)
	}
	p, err := pipeline.Parse(PipelineFile, []byte(yml))
	if err != nil {
		return nil, err
	}
	p.Steps[0].Cache, p.Steps[0].Artifacts = c.cache, c.artifacts
	return p, nil
}

// run runs a job of repo on a runner with checkout and returns the build
// step's finished report and its log.
func runJob(t *testing.T, g *dockerRig, id, repo string, fork bool) (ci.Step, string) {
	t.Helper()
	job := testJob(id, 1)
	job.Repo, job.Fork = repo, fork
	if fork {
		job.Event, job.PR = ci.EventPullRequest, 7
	}
	ok, reason, err := g.r.Run(t.Context(), job)
	if err != nil || !ok {
		t.Fatalf("run %s: %v %q %v", id, ok, reason, err)
	}
	final := waitLong(t, g.out, id)
	data, _, err := g.logs.Read(t.Context(), logstore.LogID(id, 1), 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var step ci.Step
	for _, ev := range g.out.events(t) {
		if ev.JobID == id && ev.Kind == ci.EventStep && ev.Step.Name == "build" && ev.Step.Status != ci.StepRunning {
			step = *ev.Step
		}
	}
	if final.Status != ci.StatusSuccess {
		t.Fatalf("job %s ended %s (%s); log:\n%s", id, final.Status, final.Error, data)
	}
	return step, string(data)
}

// waitLong waits for the final report of id, as outbox.final does, with
// time for containers.
func waitLong(t *testing.T, o *outbox, id string) ci.RunnerEvent {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		for _, ev := range o.events(t) {
			if ev.Kind == ci.EventJob && ev.JobID == id && ev.Status != ci.StatusRunning {
				return ev
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("job %s did not end; reports: %s", id, describe(o.events(t)))
	return ci.RunnerEvent{}
}

// TestCacheAcrossJobs: a job's step saves its cache after a miss; the next
// job of the repository restores it and its step reads the file; a fork's
// job restores but never saves; another repository does not see it.
func TestCacheAcrossJobs(t *testing.T) {
	key := func(gosum string) string {
		sum := sha256.Sum256([]byte(gosum))
		return "go-" + hex.EncodeToString(sum[:])
	}
	c := &pipeline.Cache{Key: `go-{{ checksum "go.sum" }}`, Paths: []string{".cache"}, RestoreKeys: []string{"go-"}}
	checkout := &switchable{}
	g := newDockerRig(t, checkout)

	// 1: a miss, then saved.
	checkout.set(goCheckout{files: map[string]string{"go.sum": "v1"}, cache: c,
		commands: []string{"test ! -e .cache/x", "mkdir -p .cache && echo hello > .cache/x"}})
	step, log := runJob(t, g, "cache1", "acme/app", false)
	wantLog(t, log, "cache miss "+key("v1"), "cache saved "+key("v1")+" (")
	if want := []ci.CacheUse{{Key: key("v1"), Saved: true, SavedBytes: step.Caches[0].SavedBytes}}; !slices.Equal(step.Caches, want) || want[0].SavedBytes == 0 {
		t.Errorf("job 1 caches %+v", step.Caches)
	}

	// 2: a hit; the step reads what job 1 saved, and nothing is saved again.
	checkout.set(goCheckout{files: map[string]string{"go.sum": "v1"}, cache: c,
		commands: []string{`test "$(cat .cache/x)" = hello`, "echo more > .cache/x2"}})
	step, log = runJob(t, g, "cache2", "acme/app", false)
	wantLog(t, log, "cache hit "+key("v1")+" (")
	if len(step.Caches) != 1 || !step.Caches[0].Hit || step.Caches[0].Restored != key("v1") || step.Caches[0].Saved || step.Caches[0].RestoredBytes == 0 {
		t.Errorf("job 2 caches %+v", step.Caches)
	}
	if strings.Contains(log, "cache saved") {
		t.Errorf("a hit was saved again:\n%s", log)
	}

	// 3: a fork's pull request: a partial hit through restore_keys, not saved.
	checkout.set(goCheckout{files: map[string]string{"go.sum": "v2"}, cache: c,
		commands: []string{`test "$(cat .cache/x)" = hello`, "echo fork > .cache/x"}})
	step, log = runJob(t, g, "cache3", "acme/app", true)
	wantLog(t, log, "cache partial hit: restored "+key("v1")+" for "+key("v2"), "cache not saved: pull requests from forks only read the cache")
	if len(step.Caches) != 1 || step.Caches[0].Hit || step.Caches[0].Restored != key("v1") || step.Caches[0].Saved {
		t.Errorf("fork job caches %+v", step.Caches)
	}

	// 4: another repository misses.
	checkout.set(goCheckout{files: map[string]string{"go.sum": "v1"}, cache: c, commands: []string{"test ! -e .cache/x"}})
	_, log = runJob(t, g, "cache4", "acme/other", false)
	wantLog(t, log, "cache miss "+key("v1"), "cache not saved: ", "none of the cache's paths exist (.cache)")

	es, err := cache.Entries(t.Context(), g.cache)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Repo != "acme/app" || es[0].Key != key("v1") {
		t.Errorf("cache entries %+v; want job 1's only", es)
	}
	entry := restoreEntry(t, g.cache, es[0].Blob)
	if data, err := os.ReadFile(filepath.Join(entry, ".cache/x")); err != nil || string(data) != "hello\n" {
		t.Errorf("the entry holds %q, %v", data, err)
	}
}

// TestDamagedCacheEntry: an entry that cannot be restored leaves the
// workspace as it was and the step runs; its success saves a good entry
// over the damaged one.
func TestDamagedCacheEntry(t *testing.T) {
	checkout := &switchable{}
	g := newDockerRig(t, checkout)
	blobtest.Put(t, g.cache, "cache/acme/app/k-1", "not an archive")
	checkout.set(goCheckout{cache: &pipeline.Cache{Key: "k-1", Paths: []string{".cache"}},
		commands: []string{"test ! -e .cache", "! ls -a | grep -q narwhal-cache", "mkdir .cache && echo ok > .cache/x"}})
	step, log := runJob(t, g, "dmg1", "acme/app", false)
	wantLog(t, log, "cache not restored: restore cache k-1: ", "cache saved k-1 (")
	if len(step.Caches) != 1 || step.Caches[0].Hit || step.Caches[0].Error == "" || !step.Caches[0].Saved {
		t.Errorf("caches %+v", step.Caches)
	}
	entry := restoreEntry(t, g.cache, "cache/acme/app/k-1")
	if data, err := os.ReadFile(filepath.Join(entry, ".cache/x")); err != nil || string(data) != "ok\n" {
		t.Errorf("the new entry holds %q, %v", data, err)
	}
}

// TestArtifactsAndLinks: a step's artifacts are uploaded with their names,
// sizes and sha256s on its report; a link the step made to /etc is followed
// neither by the artifacts nor by the cache's save.
func TestArtifactsAndLinks(t *testing.T) {
	checkout := &switchable{}
	g := newDockerRig(t, checkout)
	checkout.set(goCheckout{
		cache:     &pipeline.Cache{Key: "dist-1", Paths: []string{"dist"}},
		artifacts: &pipeline.Artifacts{Paths: []string{"dist/*.txt", "dist/etc/*", "missing/*.zip"}},
		commands: []string{"mkdir -p dist", "echo alpha > dist/a.txt", "printf 'bravo bravo' > dist/b.txt",
			"ln -s /etc dist/etc", "ln -s /etc/passwd dist/passwd.txt"},
	})
	step, log := runJob(t, g, "art1", "acme/app", false)
	wantLog(t, log, "artifact uploaded dist/a.txt", "artifact uploaded dist/b.txt", "missing/*.zip matched no file",
		"dist/etc/* matched no file", "left out 1 symbolic link(s), which are never followed: dist/passwd.txt", "cache saved dist-1")
	want := map[string]string{"dist/a.txt": "alpha\n", "dist/b.txt": "bravo bravo"}
	if len(step.Artifacts) != len(want) {
		t.Fatalf("artifacts %+v", step.Artifacts)
	}
	for _, a := range step.Artifacts {
		data, ok := want[a.Name]
		sum := sha256.Sum256([]byte(data))
		if !ok || a.Step != "build" || a.Size != int64(len(data)) || a.SHA256 != hex.EncodeToString(sum[:]) ||
			!strings.HasPrefix(a.Key, "artifacts/") || !strings.Contains(a.Key, "/art1/1/") {
			t.Errorf("artifact %+v, want one of %v", a, slices.Collect(maps.Keys(want)))
		}
		if got := blobtest.Read(t, g.artifacts, a.Key); got != data {
			t.Errorf("%s stored as %q", a.Name, got)
		}
	}
	// The cache of dist holds the links as links, nothing of /etc.
	es, err := cache.Entries(t.Context(), g.cache)
	if err != nil || len(es) != 1 {
		t.Fatalf("cache entries %+v, %v", es, err)
	}
	entry := restoreEntry(t, g.cache, es[0].Blob)
	if target, err := os.Readlink(filepath.Join(entry, "dist/etc")); err != nil || target != "/etc" {
		t.Errorf("dist/etc in the cache: %q, %v", target, err)
	}
	if got := testenv.Tree(t, entry); !slices.Equal(got, []string{"dist/", "dist/a.txt", "dist/b.txt", "dist/etc", "dist/passwd.txt"}) {
		t.Errorf("the cache holds %v", got)
	}

	// A cache path through the link is refused: nothing is saved.
	checkout.set(goCheckout{
		cache:    &pipeline.Cache{Key: "etc-1", Paths: []string{"dist/etc"}},
		commands: []string{"mkdir -p dist", "ln -s /etc dist/etc"},
	})
	step, log = runJob(t, g, "art2", "acme/app", false)
	wantLog(t, log, "cache not saved: ", "symbolic link")
	if len(step.Caches) != 1 || step.Caches[0].Saved || step.Caches[0].Error == "" {
		t.Errorf("caches %+v", step.Caches)
	}
	if es, _ := cache.Entries(t.Context(), g.cache); len(es) != 1 {
		t.Errorf("cache entries %+v", es)
	}
}

// restoreEntry unpacks a cache entry into a new directory.
func restoreEntry(t *testing.T, s blob.Store, key string) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := snapshot.Get(t.Context(), s, key, dir, snapshot.Limits{}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func wantLog(t *testing.T, log string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(log, p) {
			t.Errorf("the log lacks %q:\n%s", p, log)
		}
	}
}

// switchable is a Checkout the test changes between jobs.
type switchable struct {
	c goCheckout
}

func (s *switchable) set(c goCheckout) { s.c = c }

func (s *switchable) Checkout(ctx context.Context, dir string, job rpc.Job) (*pipeline.Pipeline, error) {
	return s.c.Checkout(ctx, dir, job)
}

// TestRenderCacheConfined: checksums read workspace files only: a link out,
// a directory, a missing file or one past MaxChecksumBytes is an error.
func TestRenderCacheConfined(t *testing.T) {
	ws := t.TempDir()
	os.WriteFile(filepath.Join(ws, "go.sum"), []byte("v1"), 0o644)
	os.Symlink("/etc/passwd", filepath.Join(ws, "passwd"))
	os.Symlink("go.sum", filepath.Join(ws, "inside"))
	os.Mkdir(filepath.Join(ws, "dir"), 0o755)
	big, _ := os.Create(filepath.Join(ws, "big"))
	big.Truncate(MaxChecksumBytes + 1)
	big.Close()
	sum := sha256.Sum256([]byte("v1"))
	c := &pipeline.Cache{Key: `go-{{ checksum "go.sum" }}-{{ os }}`, RestoreKeys: []string{`go-{{ checksum "inside" }}`, "go-"}, Paths: []string{".cache"}}
	spec, err := renderCache(c, ws)
	want := "go-" + hex.EncodeToString(sum[:])
	if err != nil || spec.Key != want+"-"+runtime.GOOS || !slices.Equal(spec.RestoreKeys, []string{want, "go-"}) {
		t.Errorf("renderCache = %+v, %v", spec, err)
	}
	for _, file := range []string{"passwd", "dir", "missing", "big"} {
		if _, err := renderCache(&pipeline.Cache{Key: `k-{{ checksum "` + file + `" }}`, Paths: []string{"x"}}, ws); err == nil {
			t.Errorf("checksum of %s: no error", file)
		}
	}
}
