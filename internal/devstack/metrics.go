package devstack

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// scrapeTimeout bounds the store reads of one scrape.
const scrapeTimeout = 3 * time.Second

// metrics are the dev server's Prometheus series, on a registry of their
// own. Histograms are observed as jobs move (the dispatch loop tells); the
// gauges are computed from the store at scrape time.
type metrics struct {
	reg      *prometheus.Registry
	wait     prometheus.Histogram
	dispatch prometheus.Histogram
	duration *prometheus.HistogramVec
	seen     *seenSet
}

// Buckets of the job histograms, in seconds: from a busybox step to an hour.
var jobBuckets = []float64{0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}

func newMetrics(st ci.Store) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		wait: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "narwhal_queue_wait_seconds",
			Help: "Time from a job's creation to its start on a runner.", Buckets: jobBuckets}),
		dispatch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "narwhal_dispatch_latency_seconds",
			Help:    "Time the dispatcher takes to handle one job message (pick a runner and call Run).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12)}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "narwhal_job_duration_seconds",
			Help:    "Run time of finished jobs (start to end; creation to end when never started), by final status.",
			Buckets: jobBuckets}, []string{"status"}),
		seen: newSeenSet(4096),
	}
	m.reg.MustRegister(m.wait, m.dispatch, m.duration, &storeCollector{store: st},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observeJob records what a job change tells: the queue wait when the job
// started, the duration when it ended. Each is recorded once per job attempt,
// however often a change is seen.
func (m *metrics) observeJob(j ci.Job) {
	if !j.StartedAt.IsZero() && m.seen.add(j.ID, j.Attempt, "started") {
		m.wait.Observe(max(j.StartedAt.Sub(j.CreatedAt), 0).Seconds())
	}
	if j.Status.Final() && !j.FinishedAt.IsZero() && m.seen.add(j.ID, j.Attempt, "finished") {
		from := j.StartedAt
		if from.IsZero() {
			from = j.CreatedAt
		}
		m.duration.WithLabelValues(string(j.Status)).Observe(max(j.FinishedAt.Sub(from), 0).Seconds())
	}
}

// storeCollector computes the gauges from the store at scrape time.
type storeCollector struct{ store ci.Store }

var (
	depthDesc = prometheus.NewDesc("narwhal_queue_depth",
		"Jobs waiting for a runner (status queued).", nil, nil)
	runnersDesc = prometheus.NewDesc("narwhal_runners",
		"Registered runners by state.", []string{"state"}, nil)
	slotsDesc = prometheus.NewDesc("narwhal_slot_utilisation",
		"Running jobs over job slots of the runners that are not offline (0 without slots).", nil, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- depthDesc
	ch <- runnersDesc
	ch <- slotsDesc
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	if queued, err := listAll(ctx, c.store, ci.StatusQueued); err != nil {
		ch <- prometheus.NewInvalidMetric(depthDesc, err)
	} else {
		ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(len(queued)))
	}
	rs, err := c.store.ListRunners(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(runnersDesc, err)
		return
	}
	byState := map[ci.RunnerState]int{ci.RunnerActive: 0, ci.RunnerDraining: 0, ci.RunnerOffline: 0}
	running, capacity := 0, 0
	for _, r := range rs {
		byState[r.State]++
		if r.State != ci.RunnerOffline {
			running, capacity = running+r.Running, capacity+r.Capacity
		}
	}
	for state, n := range byState {
		ch <- prometheus.MustNewConstMetric(runnersDesc, prometheus.GaugeValue, float64(n), string(state))
	}
	util := 0.0
	if capacity > 0 {
		util = float64(running) / float64(capacity)
	}
	ch <- prometheus.MustNewConstMetric(slotsDesc, prometheus.GaugeValue, util)
}

// seenSet remembers the last size (job, attempt, event) keys, oldest
// forgotten first.
type seenSet struct {
	mu    sync.Mutex
	size  int
	keys  map[string]struct{}
	order []string
}

func newSeenSet(size int) *seenSet {
	return &seenSet{size: size, keys: make(map[string]struct{}, size)}
}

// add records the key and reports whether it is new.
func (s *seenSet) add(jobID string, attempt int, what string) bool {
	key := fmt.Sprintf("%s/%d/%s", jobID, attempt, what)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[key]; ok {
		return false
	}
	s.keys[key] = struct{}{}
	s.order = append(s.order, key)
	if len(s.order) > s.size {
		delete(s.keys, s.order[0])
		s.order = s.order[1:]
	}
	return true
}
