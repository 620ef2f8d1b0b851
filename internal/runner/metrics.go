package runner

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// metrics are the runner's Prometheus metrics, on a registry of its own.
type metrics struct {
	reg      *prometheus.Registry
	slots    prometheus.Gauge
	running  prometheus.Gauge
	duration *prometheus.HistogramVec
	jobs     *prometheus.CounterVec
}

// jobBuckets spans jobs from a fraction of a second to two hours.
var jobBuckets = []float64{0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200}

func newMetrics(pending func() int) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		slots: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "narwhal_runner_slots", Help: "Job slots of the runner (its capacity).",
		}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "narwhal_runner_running_jobs", Help: "Jobs holding a slot now.",
		}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "narwhal_runner_job_duration_seconds", Help: "Time from a job's acceptance to its final report, by final status.",
			Buckets: jobBuckets,
		}, []string{"status"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "narwhal_runner_jobs_total", Help: "Jobs ended, by final status (requeued: handed back by a drain).",
		}, []string{"status"}),
	}
	reportsPending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "narwhal_runner_reports_pending", Help: "Reports in the outbox, not yet taken by the broker.",
	}, func() float64 { return float64(pending()) })
	m.reg.MustRegister(m.slots, m.running, m.duration, m.jobs, reportsPending)
	return m
}

// observe counts a job that ended with status after d.
func (m *metrics) observe(status string, d time.Duration) {
	m.jobs.WithLabelValues(status).Inc()
	m.duration.WithLabelValues(status).Observe(d.Seconds())
}

// metricStatus is the status label of a final report: its status, or
// "requeued" for a job handed back.
func metricStatus(s ci.Status) string {
	if s == ci.StatusQueued {
		return "requeued"
	}
	return string(s)
}
