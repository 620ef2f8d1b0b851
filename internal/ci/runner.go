package ci

import "time"

// RunnerState is what the dispatcher believes of a runner.
type RunnerState string

// Runner states.
const (
	RunnerActive   RunnerState = "active"
	RunnerDraining RunnerState = "draining"
	RunnerOffline  RunnerState = "offline"
)

// Runner is a registered runnerd instance as the registry keeps it.
type Runner struct {
	ID       string      `json:"id"`
	Address  string      `json:"address"` // host:port of its gRPC server
	Labels   []string    `json:"labels,omitempty"`
	Capacity int         `json:"capacity"`
	Running  int         `json:"running"`
	State    RunnerState `json:"state"`
	// Failures counts recent lost or errored jobs, to break ties in scheduling.
	Failures      int       `json:"failures"`
	FreeDiskBytes int64     `json:"free_disk_bytes"`
	Version       string    `json:"version,omitempty"`
	LastHeartbeat time.Time `json:"last_heartbeat"`
	// ExpiresAt is when a silent runner's record may be dropped (DynamoDB TTL).
	ExpiresAt time.Time `json:"expires_at"`
}
