package api

import (
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// Stats is the answer of GET /stats: the queue, recent jobs and runners.
type Stats struct {
	// QueueDepth is the number of job messages waiting in ci.QueueJobs;
	// absent when the queue cannot tell (QueueError then says why, if it tried).
	QueueDepth *int        `json:"queue_depth,omitempty"`
	QueueError string      `json:"queue_error,omitempty"`
	Jobs       JobStats    `json:"jobs"`
	Runners    RunnerStats `json:"runners"`
}

// JobStats describe the most recent jobs (at most Deps.StatsWindow).
type JobStats struct {
	Sample   int               `json:"sample"` // how many jobs were looked at
	ByStatus map[ci.Status]int `json:"by_status"`
	// WaitSeconds are percentiles of StartedAt − CreatedAt over the sample's
	// jobs that started; absent when none did.
	WaitSeconds *Percentiles `json:"wait_seconds,omitempty"`
	// SuccessRate is success / (success + failure + error) over the sample's
	// finished jobs (cancelled ones are a person's choice and do not count);
	// absent when none finished.
	SuccessRate *float64 `json:"success_rate,omitempty"`
}

// Percentiles of a sample, by the nearest-rank method.
type Percentiles struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
}

// RunnerStats count runners and their job slots. Capacity and Running sum
// over the runners that are not offline; Utilisation is Running / Capacity,
// absent when the capacity is zero.
type RunnerStats struct {
	Total       int                    `json:"total"`
	ByState     map[ci.RunnerState]int `json:"by_state"`
	Capacity    int                    `json:"capacity"`
	Running     int                    `json:"running"`
	Utilisation *float64               `json:"utilisation,omitempty"`
}

// stats is GET /stats.
func stats(jobs jobLister, runners RunnerLister, queue QueueDepth, window int) http.Handler {
	return apiFunc(func(r *http.Request) (reply, error) {
		if err := noQuery(r); err != nil {
			return reply{}, err
		}
		page, err := jobs.ListJobs(r.Context(), ci.JobFilter{Limit: window})
		if err != nil {
			return reply{}, failure("list jobs", err)
		}
		rs, err := runners.ListRunners(r.Context())
		if err != nil {
			return reply{}, failure("list runners", err)
		}
		s := Stats{Jobs: jobStats(page.Jobs), Runners: runnerStats(rs)}
		if queue != nil {
			if n, err := queue.Depth(r.Context(), ci.QueueJobs); err != nil {
				s.QueueError = "queue depth unavailable: " + err.Error()
			} else {
				s.QueueDepth = &n
			}
		}
		return reply{status: http.StatusOK, body: s}, nil
	})
}

// jobStats summarises a sample of jobs.
func jobStats(jobs []ci.Job) JobStats {
	s := JobStats{Sample: len(jobs), ByStatus: map[ci.Status]int{}}
	var waits []time.Duration
	for _, j := range jobs {
		s.ByStatus[j.Status]++
		if !j.StartedAt.IsZero() && !j.StartedAt.Before(j.CreatedAt) {
			waits = append(waits, j.StartedAt.Sub(j.CreatedAt))
		}
	}
	if len(waits) > 0 {
		s.WaitSeconds = percentiles(waits)
	}
	ok, finished := s.ByStatus[ci.StatusSuccess], 0
	for _, st := range []ci.Status{ci.StatusSuccess, ci.StatusFailure, ci.StatusError} {
		finished += s.ByStatus[st]
	}
	if finished > 0 {
		s.SuccessRate = ratio(ok, finished)
	}
	return s
}

// percentiles computes p50, p90 and p99 of a non-empty sample, in seconds.
func percentiles(d []time.Duration) *Percentiles {
	slices.Sort(d)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p/100*float64(len(d)))) - 1
		return d[max(i, 0)].Seconds()
	}
	return &Percentiles{Count: len(d), P50: rank(50), P90: rank(90), P99: rank(99)}
}

// runnerStats summarises the registered runners.
func runnerStats(rs []ci.Runner) RunnerStats {
	s := RunnerStats{Total: len(rs), ByState: map[ci.RunnerState]int{}}
	for _, r := range rs {
		s.ByState[r.State]++
		if r.State != ci.RunnerOffline {
			s.Capacity += r.Capacity
			s.Running += r.Running
		}
	}
	if s.Capacity > 0 {
		s.Utilisation = ratio(s.Running, s.Capacity)
	}
	return s
}

// ratio is a/b rounded to four decimals.
func ratio(a, b int) *float64 {
	r := math.Round(float64(a)/float64(b)*10000) / 10000
	return &r
}
