package diskguard

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Defaults of the zero fields of Options.
const (
	DefaultHigh     = 85.0
	DefaultLow      = 70.0
	DefaultInterval = 30 * time.Second
)

// Options configure a Guard. Paths is required.
type Options struct {
	// Paths are the watched paths; paths on the same filesystem count once,
	// and a path that does not exist (yet) is not measured.
	Paths []string
	// High and Low are watermarks in percent of a filesystem used (as df
	// counts it): above High the guard is under pressure and evicts, until
	// every filesystem is under Low. 0 means DefaultHigh and DefaultLow;
	// they must satisfy 0 < Low < High < 100.
	High, Low float64
	// Interval is the time between passes of Run; 0 means DefaultInterval.
	Interval time.Duration
	// Evictors offer what may be removed, merged and taken oldest first.
	Evictors []Evictor
	// OnChange, when set, is called from the guard's pass when the pressure
	// starts (pressure is its text) and when it ends (pressure is ""): the
	// runner sends a heartbeat at once. It must not call Check.
	OnChange func(pressure string)
	// Logger receives a line per eviction and per change of pressure; nil:
	// discard.
	Logger *slog.Logger
}

// Guard watches filesystems and evicts under pressure; see the package doc.
// Status is safe for concurrent use; Check and Run are not (one goroutine
// runs the passes).
type Guard struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	used     float64 // percent used of the fullest filesystem, last measured
	pressure string  // "" when not under pressure
}

// New checks opts and returns a Guard that has measured its filesystems
// once (Status is meaningful at once, and OnChange is not called for it);
// nothing runs until Check or Run.
func New(opts Options) (*Guard, error) {
	opts.High = cmp.Or(opts.High, DefaultHigh)
	opts.Low = cmp.Or(opts.Low, DefaultLow)
	opts.Interval = cmp.Or(opts.Interval, DefaultInterval)
	switch {
	case len(opts.Paths) == 0:
		return nil, errors.New("diskguard: no paths to watch")
	case !(0 < opts.Low && opts.Low < opts.High && opts.High < 100):
		return nil, fmt.Errorf("diskguard: watermarks low %g%%, high %g%%: want 0 < low < high < 100", opts.Low, opts.High)
	case opts.Interval < 0:
		return nil, fmt.Errorf("diskguard: interval %s: want positive", opts.Interval)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Guard{opts: opts, log: opts.Logger}
	g.settle(g.measure(), false)
	return g, nil
}

// Status returns how full the fullest watched filesystem is (percent, as
// last measured) and, while the guard is under pressure, why (for example
// "/work 91% full, above the 85% high watermark"); pressure is "" when not.
func (g *Guard) Status() (usedPercent float64, pressure string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.used, g.pressure
}

// Run makes a pass every Interval until ctx ends; failed passes are
// logged.
func (g *Guard) Run(ctx context.Context) {
	t := time.NewTicker(g.opts.Interval)
	defer t.Stop()
	for {
		if err := g.Check(ctx); err != nil && ctx.Err() == nil {
			g.log.Warn("disk guard pass", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Check makes one pass: it measures the watched filesystems and, under
// pressure, evicts candidates oldest first from the filesystems above the
// low watermark until they are under it or no candidate is left. An
// evictor's failure is logged, not returned; the error is ctx's.
func (g *Guard) Check(ctx context.Context) error {
	fss := g.measure()
	if g.settle(fss, true) {
		g.evictUntilUnderLow(ctx, fss)
		g.settle(g.measure(), true)
	}
	return ctx.Err()
}

// evictUntilUnderLow evicts candidates oldest first from the filesystems
// of fss at or above the low watermark, measuring each again after each
// eviction from it, until none is left above it or no candidate is left.
func (g *Guard) evictUntilUnderLow(ctx context.Context, fss []fsUse) {
	over := map[uint64]fsUse{}
	for _, f := range fss {
		if f.percent >= g.opts.Low {
			over[f.dev] = f
		}
	}
	for _, c := range g.candidates(ctx) {
		if len(over) == 0 || ctx.Err() != nil {
			break
		}
		dev, err := deviceOf(c.Path)
		if _, ok := over[dev]; err != nil || !ok {
			continue
		}
		g.evict(ctx, c)
		f := over[dev]
		if now, err := statFS(f.path); err == nil && now.percent < g.opts.Low {
			delete(over, dev)
		}
	}
}

// candidates merges the candidates of every evictor, oldest first.
func (g *Guard) candidates(ctx context.Context) []Candidate {
	var all []Candidate
	for _, e := range g.opts.Evictors {
		cs, err := e.Candidates(ctx)
		if err != nil {
			g.log.Warn("disk guard: list eviction candidates", "evictor", e.Name(), "err", err)
			continue
		}
		all = append(all, cs...)
	}
	slices.SortStableFunc(all, func(a, b Candidate) int { return a.LastUsed.Compare(b.LastUsed) })
	return all
}

// evict removes c and logs what it freed.
func (g *Guard) evict(ctx context.Context, c Candidate) {
	if err := c.Remove(ctx); err != nil {
		g.log.Warn("disk guard: eviction failed", "what", c.What, "err", err)
		return
	}
	g.log.Info("disk guard: evicted", "what", c.What, "bytes", c.Bytes, "last_used", c.LastUsed)
}

// measure returns the use of each watched filesystem, each once, in the
// order of Paths; a path that cannot be measured is left out (and logged
// unless missing).
func (g *Guard) measure() []fsUse {
	var out []fsUse
	seen := map[uint64]bool{}
	for _, p := range g.opts.Paths {
		f, err := statFS(p)
		if err != nil {
			if !errors.Is(err, errMissing) {
				g.log.Warn("disk guard: measure", "path", p, "err", err)
			}
			continue
		}
		if !seen[f.dev] {
			seen[f.dev] = true
			out = append(out, f)
		}
	}
	return out
}

// settle records the measurement: the fullest filesystem's use and the
// pressure, which starts above High and ends only when every filesystem is
// under Low. It logs a start or end of the pressure and, when notify is
// set, tells OnChange. It reports whether the guard is under pressure.
func (g *Guard) settle(fss []fsUse, notify bool) bool {
	var top fsUse
	above := false
	for _, f := range fss {
		if f.percent > top.percent || top.path == "" {
			top = f
		}
		above = above || f.percent >= g.opts.Low
	}
	g.mu.Lock()
	was := g.pressure != ""
	now := top.percent > g.opts.High || was && above
	g.used, g.pressure = top.percent, ""
	if now {
		g.pressure = g.describe(top)
	}
	text := g.pressure
	g.mu.Unlock()
	if now != was {
		g.changed(text, top, notify)
	}
	return now
}

// describe says why the guard is under pressure, from its fullest
// filesystem.
func (g *Guard) describe(top fsUse) string {
	if top.percent > g.opts.High {
		return fmt.Sprintf("%s %.0f%% full, above the %g%% high watermark", top.path, top.percent, g.opts.High)
	}
	return fmt.Sprintf("%s %.0f%% full, not yet under the %g%% low watermark", top.path, top.percent, g.opts.Low)
}

// changed logs a change of pressure and, with notify, tells OnChange.
func (g *Guard) changed(pressure string, top fsUse, notify bool) {
	if pressure != "" {
		g.log.Warn("disk pressure: evicting", "pressure", pressure)
	} else {
		g.log.Info("disk pressure over", "path", top.path, "used_percent", top.percent)
	}
	if notify && g.opts.OnChange != nil {
		g.opts.OnChange(pressure)
	}
}
