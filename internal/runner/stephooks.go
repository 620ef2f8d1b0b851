package runner

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/narwhal-ci/narwhal/internal/artifact"
	"github.com/narwhal-ci/narwhal/internal/cache"
	"github.com/narwhal-ci/narwhal/internal/cachekey"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/engine"
	"github.com/narwhal-ci/narwhal/internal/pipeline"
	"github.com/narwhal-ci/narwhal/internal/snapshot"
)

// stepHooks are the engine's StepHooks of one job: before a step with a
// cache, its key is rendered and the entry restored into the workspace;
// after it, the cache is saved when the step succeeded and the key was
// missed (never for a pull request from a fork, which only reads), and the
// step's artifacts are uploaded when it ran to success or failure. What each
// step did goes on its finished report (the observer asks caches and
// artifacts). Nothing here fails a step: what went wrong is a note in the
// step's log.
//
// A step that failed with allow_failure saves no cache: what a failed
// build left in its cache paths is not known to be good.
type stepHooks struct {
	r   *Runner
	j   *job
	dir string // the workspace

	cacheOff sync.Once    // the "caches are off" note, once per job
	seq      atomic.Int64 // numbers the job's artifact keys

	mu    sync.Mutex
	steps map[string]*stepUse
	names map[string]string // artifact name -> the step that uploaded it
}

var _ engine.StepHooks = (*stepHooks)(nil)

// stepUse is what the hooks did for one step.
type stepUse struct {
	spec      *cache.Spec // rendered; nil when the step has no cache or it could not be rendered
	hit       bool
	caches    []ci.CacheUse
	artifacts []ci.Artifact
}

func newStepHooks(r *Runner, j *job, dir string) *stepHooks {
	return &stepHooks{r: r, j: j, dir: dir, steps: map[string]*stepUse{}, names: map[string]string{}}
}

// use returns the record of step, creating it.
func (h *stepHooks) use(step string) *stepUse {
	h.mu.Lock()
	defer h.mu.Unlock()
	u := h.steps[step]
	if u == nil {
		u = &stepUse{}
		h.steps[step] = u
	}
	return u
}

// caches and artifacts are what step did, for its finished report.
func (h *stepHooks) caches(step string) []ci.CacheUse {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if u := h.steps[step]; u != nil {
		return u.caches
	}
	return nil
}

func (h *stepHooks) artifacts(step string) []ci.Artifact {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if u := h.steps[step]; u != nil {
		return u.artifacts
	}
	return nil
}

// BeforeStep restores the step's cache.
func (h *stepHooks) BeforeStep(ctx context.Context, step *pipeline.Step, note func(string)) {
	if step.Cache == nil {
		return
	}
	if h.r.deps.Cache == nil {
		h.cacheOff.Do(func() { note("caches are off on this runner: no cache is restored or saved") })
		return
	}
	u := h.use(step.Name)
	spec, err := renderCache(step.Cache, h.dir)
	if err != nil {
		note("cache not restored: " + err.Error())
		h.record(u, ci.CacheUse{Key: step.Cache.Key, Error: err.Error()})
		return
	}
	use := ci.CacheUse{Key: spec.Key}
	start := time.Now()
	res, err := cache.Restore(ctx, h.r.deps.Cache, h.j.spec.Repo, h.dir, spec, snapshot.Limits{})
	took := time.Since(start)
	switch {
	case err != nil:
		h.j.log.Warn("cache not restored", "step", step.Name, "key", spec.Key, "err", err)
		note(fmt.Sprintf("cache not restored: %v", err))
		use.Error = err.Error()
	case res.Hit:
		note(fmt.Sprintf("cache hit %s (%s, %s)", spec.Key, fmtBytes(res.Size), fmtTook(took)))
	case res.Key != "":
		note(fmt.Sprintf("cache partial hit: restored %s for %s (%s, %s)", res.Key, spec.Key, fmtBytes(res.Size), fmtTook(took)))
	default:
		note("cache miss " + spec.Key)
	}
	if len(res.Kept) > 0 {
		note("cache: the workspace already had " + strings.Join(res.Kept, ", ") + ": left as it was")
	}
	use.Hit, use.Restored, use.RestoredBytes = res.Hit, res.Key, res.Size
	u.spec, u.hit = &spec, res.Hit
	h.record(u, use)
}

// record adds a cache use to u.
func (h *stepHooks) record(u *stepUse, use ci.CacheUse) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u.caches = append(u.caches, use)
}

// update changes u's last cache use.
func (h *stepHooks) update(u *stepUse, f func(*ci.CacheUse)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := len(u.caches); n > 0 {
		f(&u.caches[n-1])
	}
}

// AfterStep saves the step's cache and uploads its artifacts.
func (h *stepHooks) AfterStep(ctx context.Context, step *pipeline.Step, res engine.StepResult, note func(string)) {
	if step.Cache != nil && h.r.deps.Cache != nil && res.Status == engine.StepSuccess {
		h.saveCache(ctx, step, note)
	}
	if step.Artifacts != nil && (res.Status == engine.StepSuccess || res.Status == engine.StepFailure) {
		h.upload(ctx, step, note)
	}
}

// saveCache saves the step's cache unless it was hit or cannot be saved.
func (h *stepHooks) saveCache(ctx context.Context, step *pipeline.Step, note func(string)) {
	u := h.use(step.Name)
	switch {
	case u.spec == nil || u.hit:
		return
	case h.j.spec.Fork:
		note("cache not saved: pull requests from forks only read the cache")
		return
	}
	start := time.Now()
	opts := cache.SaveOptions{MaxBytes: h.r.deps.CacheMaxBytes, Spool: h.r.cfg.WorkDir}
	var saved cache.Saved
	err := h.reclaimed(ctx, func() error {
		var err error
		saved, err = cache.Save(ctx, h.r.deps.Cache, h.j.spec.Repo, h.dir, *u.spec, opts)
		return err
	})
	if saved.Size == 0 && err != nil {
		h.j.log.Warn("cache not saved", "step", step.Name, "key", u.spec.Key, "err", err)
		note(fmt.Sprintf("cache not saved: %v", err))
		h.update(u, func(c *ci.CacheUse) { c.Error = err.Error() })
		return
	}
	note(fmt.Sprintf("cache saved %s (%s, %s)", u.spec.Key, fmtBytes(saved.Size), fmtTook(time.Since(start))))
	if len(saved.Missing) > 0 {
		note("cache: not in the workspace, so not saved: " + strings.Join(saved.Missing, ", "))
	}
	if len(saved.Evicted) > 0 {
		note(fmt.Sprintf("cache: evicted %d least recently used entries of this repository to stay under %s: %s",
			len(saved.Evicted), fmtBytes(cmp.Or(h.r.deps.CacheMaxBytes, cache.DefaultMaxBytes)), strings.Join(saved.Evicted, ", ")))
	}
	if err != nil {
		note(err.Error())
	}
	h.update(u, func(c *ci.CacheUse) { c.Saved, c.SavedBytes = true, saved.Size })
}

// upload uploads the step's artifacts.
func (h *stepHooks) upload(ctx context.Context, step *pipeline.Step, note func(string)) {
	if h.r.deps.Artifacts == nil {
		note("artifacts are off on this runner: " + strings.Join(step.Artifacts.Paths, ", ") + " not uploaded")
		return
	}
	var c artifact.Collected
	err := h.reclaimed(ctx, func() error {
		var err error
		c, err = artifact.Collect(ctx, h.dir, step.Artifacts.Paths, artifact.Limits{})
		return err
	})
	for _, n := range c.Notes {
		note(n)
	}
	if err != nil {
		note(fmt.Sprintf("artifacts not uploaded: %v", err))
		return
	}
	files := h.claim(step.Name, c.Files, note)
	if len(files) == 0 {
		return
	}
	expires := time.Now().Add(cmp.Or(step.Artifacts.ExpireIn, pipeline.DefaultArtifactExpiry))
	first := int(h.seq.Add(int64(len(files)))) - len(files)
	up, err := artifact.Upload(ctx, h.r.deps.Artifacts, h.dir, files, artifact.Target{
		JobID: h.j.spec.ID, Attempt: int(h.j.attempt.Load()), Step: step.Name, First: first, Expires: expires})
	for _, a := range up {
		note(fmt.Sprintf("artifact uploaded %s (%s, sha256 %s)", a.Name, fmtBytes(a.Size), a.SHA256))
	}
	if err != nil {
		h.j.log.Warn("artifacts not uploaded", "step", step.Name, "err", err)
		note(fmt.Sprintf("artifacts not uploaded: %v", err))
	}
	u := h.use(step.Name)
	h.mu.Lock()
	defer h.mu.Unlock()
	u.artifacts = append(u.artifacts, up...)
}

// claim keeps the files whose names no earlier step of the job uploaded
// (an artifact's name is what it is downloaded by), noting the others.
func (h *stepHooks) claim(step string, files []artifact.File, note func(string)) []artifact.File {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []artifact.File
	for _, f := range files {
		if by, ok := h.names[f.Name]; ok {
			note(fmt.Sprintf("artifact %s not uploaded: step %s uploaded one of that name", f.Name, by))
			continue
		}
		h.names[f.Name] = step
		out = append(out, f)
	}
	return out
}

// reclaimed runs f, and once more after the executor's Reclaim of the
// workspace when f was refused a file the step wrote as another user (a
// root step's 0600 file, for a runner that is not root).
func (h *stepHooks) reclaimed(ctx context.Context, f func() error) error {
	err := f()
	if err == nil || !errors.Is(err, fs.ErrPermission) || h.r.deps.Reclaim == nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, ReclaimTimeout)
	defer cancel()
	if rerr := h.r.deps.Reclaim(rctx, h.dir); rerr != nil {
		return errors.Join(err, rerr)
	}
	return f()
}

// renderCache renders the step's cache templates in the workspace dir.
func renderCache(c *pipeline.Cache, dir string) (cache.Spec, error) {
	env := cachekey.Env{Checksum: checksum(dir), Arch: runtime.GOARCH, OS: runtime.GOOS}
	key, err := render(c.Key, env)
	if err != nil {
		return cache.Spec{}, err
	}
	spec := cache.Spec{Key: key, Paths: c.Paths}
	for _, rk := range c.RestoreKeys {
		k, err := render(rk, env)
		if err != nil {
			return cache.Spec{}, fmt.Errorf("restore_keys: %w", err)
		}
		spec.RestoreKeys = append(spec.RestoreKeys, k)
	}
	return spec, nil
}

func render(tmpl string, env cachekey.Env) (string, error) {
	t, err := cachekey.Parse(tmpl)
	if err != nil {
		return "", fmt.Errorf("cache key %q: %w", tmpl, err)
	}
	return t.Render(env)
}

// MaxChecksumBytes bounds a file a cache key checksums.
const MaxChecksumBytes = 64 << 20

// checksum is the cache key's checksum of workspace files: each read
// through an os.Root of dir (a link may not lead out), a regular file of at
// most MaxChecksumBytes.
func checksum(dir string) func(string) ([sha256.Size]byte, error) {
	return func(file string) ([sha256.Size]byte, error) {
		var sum [sha256.Size]byte
		root, err := os.OpenRoot(dir)
		if err != nil {
			return sum, err
		}
		defer root.Close()
		f, err := root.Open(file)
		if err != nil {
			return sum, err
		}
		defer f.Close()
		if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
			return sum, cmp.Or(err, fmt.Errorf("%s is not a regular file", file))
		}
		h := sha256.New()
		n, err := io.Copy(h, io.LimitReader(f, MaxChecksumBytes+1))
		if err == nil && n > MaxChecksumBytes {
			err = fmt.Errorf("%s is larger than %s", file, fmtBytes(MaxChecksumBytes))
		}
		copy(sum[:], h.Sum(nil))
		return sum, err
	}
}

// fmtTook is a duration for a step's log: 3.1 s, 120 ms.
func fmtTook(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}
