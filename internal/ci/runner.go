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
	Failures      int   `json:"failures"`
	FreeDiskBytes int64 `json:"free_disk_bytes"`
	// DiskUsedPercent is how full the fullest of the runner's filesystems
	// (work dir, cache, Docker's data) is, 0-100, as of its last heartbeat.
	DiskUsedPercent float64 `json:"disk_used_percent,omitempty"`
	// DiskPressure, when set, says for people why the runner takes no jobs
	// for now ("/var/lib/docker 91% full, above the 85% high watermark;
	// evicting"): selection passes it over until it clears.
	DiskPressure  string    `json:"disk_pressure,omitempty"`
	Version       string    `json:"version,omitempty"`
	LastHeartbeat time.Time `json:"last_heartbeat"`
	// BootID names the runnerd process that sent the last register or
	// heartbeat (a new one per process start). A runner that reports a
	// BootID also reports Jobs: the dispatcher then settles the difference
	// between Jobs and the store (see dispatch.Dispatcher.Monitor). Empty
	// from runners that predate it: their Jobs mean nothing.
	BootID string `json:"boot_id,omitempty"`
	// Jobs are the jobs the runner held (accepted and not yet torn down)
	// when it sent LastHeartbeat's report.
	Jobs []JobRef `json:"jobs,omitempty"`
	// RPCFailedAt is when a Run to the runner last failed (unreachable,
	// deadline passed; not a refusal): selection tries such a runner after
	// the others for a while. Zero after a Run it accepted.
	RPCFailedAt time.Time `json:"rpc_failed_at,omitzero"`
	// ExpiresAt is when a silent runner's record may be dropped (DynamoDB TTL).
	ExpiresAt time.Time `json:"expires_at"`
}

// JobRef names one attempt of a job a runner holds.
type JobRef struct {
	ID      string `json:"id"`
	Attempt int    `json:"attempt"`
}
