package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue"
)

// RouteRunnerMetrics is the routing key of the runner metrics Monitor
// publishes (matched by queue.RouteMetrics, so it reaches
// queue.MetricsExchange).
const RouteRunnerMetrics = "metrics.runners"

// RunnerMetrics is the body of a runner metrics message: the registry as
// the monitor saw it, and totals over the runners that are not offline.
type RunnerMetrics struct {
	Time     time.Time      `json:"time"`
	Runners  []RunnerMetric `json:"runners"`
	Active   int            `json:"active"`   // runners in state active
	Draining int            `json:"draining"` // runners in state draining
	Offline  int            `json:"offline"`  // runners in state offline
	Capacity int            `json:"capacity"` // job slots of active and draining runners
	Running  int            `json:"running"`  // jobs running on them
}

// RunnerMetric is one runner in RunnerMetrics.
type RunnerMetric struct {
	ID            string         `json:"id"`
	State         ci.RunnerState `json:"state"`
	Labels        []string       `json:"labels,omitempty"`
	Capacity      int            `json:"capacity"`
	Running       int            `json:"running"`
	Failures      int            `json:"failures"`
	FreeDiskBytes int64          `json:"free_disk_bytes"`
	LastHeartbeat time.Time      `json:"last_heartbeat"`
}

// publishMetrics publishes RunnerMetrics with key RouteRunnerMetrics. Nobody
// listening (queue.ErrUnroutable) is not an error.
func (d *Dispatcher) publishMetrics(ctx context.Context, runners []ci.Runner, now time.Time) error {
	body, err := json.Marshal(runnerMetrics(runners, now))
	if err != nil {
		return fmt.Errorf("monitor: metrics: %w", err)
	}
	m := ci.Message{Key: RouteRunnerMetrics, ID: "metrics-runners-" + strconv.FormatInt(now.UnixNano(), 36), Body: body}
	if err := d.queue.Publish(ctx, m); err != nil && !errors.Is(err, queue.ErrUnroutable) {
		return fmt.Errorf("monitor: publish metrics: %w", err)
	}
	return nil
}

// runnerMetrics summarises runners.
func runnerMetrics(runners []ci.Runner, now time.Time) RunnerMetrics {
	m := RunnerMetrics{Time: now.UTC(), Runners: []RunnerMetric{}}
	for _, r := range runners {
		m.Runners = append(m.Runners, RunnerMetric{ID: r.ID, State: r.State, Labels: r.Labels,
			Capacity: r.Capacity, Running: r.Running, Failures: r.Failures,
			FreeDiskBytes: r.FreeDiskBytes, LastHeartbeat: r.LastHeartbeat})
		switch r.State {
		case ci.RunnerOffline:
			m.Offline++
			continue
		case ci.RunnerDraining:
			m.Draining++
		default:
			m.Active++
		}
		m.Capacity += r.Capacity
		m.Running += r.Running
	}
	return m
}
