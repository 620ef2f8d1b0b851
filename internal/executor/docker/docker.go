// Package docker is the Docker executor: each step of a job runs in its own
// container with the job's workspace bind-mounted at executor.Workdir, and the
// job's services run as sidecars on a network of the job's own; jobs without
// services share the default bridge or hold a slot network (Config.Isolation,
// slotnet.go). Reclaim gives back what root steps wrote. It is the only
// package of narwhal that imports the Docker SDK (github.com/docker/docker), so
// that a later move to its successor stays here.
//
// Everything it creates carries the labels LabelManaged, LabelRunner and
// LabelJob (slot networks LabelSlot instead, Reclaim's containers neither), so
// that Teardown can remove a job's objects by label and Sweep can remove what
// a crashed runner left behind.
package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/narwhal-ci/narwhal/internal/executor"
)

// Defaults applied by New to the zero fields of Config.
const (
	DefaultMemory    int64   = 2 << 30 // 2 GiB
	DefaultCPUs      float64 = 2
	DefaultPidsLimit int64   = 512
	DefaultStopGrace         = 10 * time.Second
)

// DefaultCapDrop is the capabilities dropped from Docker's default set when
// Config.CapDrop is nil. What remains (chown, setuid, net_raw, ...) is what
// package managers, compilers and ping need.
var DefaultCapDrop = []string{"AUDIT_WRITE", "MKNOD"}

// Config is the configuration of an Executor. New replaces zero values with
// the defaults above; a negative Memory, CPUs or PidsLimit disables that limit.
type Config struct {
	// RunnerID names this runner in the labels of everything it creates;
	// Sweep removes what carries it. Required.
	RunnerID string
	// Memory is the memory limit of each container in bytes; swap is not
	// allowed beyond it.
	Memory int64
	// CPUs is the number of CPUs each container may use (fractions allowed).
	CPUs float64
	// PidsLimit is the maximum number of processes in each container.
	PidsLimit int64
	// StopGrace is how long a step has between SIGTERM and SIGKILL when it
	// times out or is cancelled. Docker counts it in whole seconds.
	StopGrace time.Duration
	// Network is the network of the steps of jobs without services; "" is the
	// engine's default bridge. Jobs with services get a network of their own.
	Network string
	// Isolation says how jobs without services are kept from reaching each
	// other: IsolationNone (the default), IsolationAuto, IsolationSlot or
	// IsolationStrict. Connect applies it; New alone leaves it unapplied.
	Isolation string
	// CapDrop lists the capabilities dropped from every container; nil means
	// DefaultCapDrop, an empty non-nil slice drops nothing.
	CapDrop []string
}

// withDefaults returns cfg with its zero fields set to the defaults.
func (cfg Config) withDefaults() Config {
	if cfg.Memory == 0 {
		cfg.Memory = DefaultMemory
	}
	if cfg.CPUs == 0 {
		cfg.CPUs = DefaultCPUs
	}
	if cfg.PidsLimit == 0 {
		cfg.PidsLimit = DefaultPidsLimit
	}
	if cfg.StopGrace <= 0 {
		cfg.StopGrace = DefaultStopGrace
	}
	if cfg.CapDrop == nil {
		cfg.CapDrop = DefaultCapDrop
	}
	return cfg
}

// dockerAPI is the part of the Docker client the executor uses.
type dockerAPI interface {
	ImageInspect(ctx context.Context, ref string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
	ImagePull(ctx context.Context, ref string, opts image.PullOptions) (io.ReadCloser, error)
	ContainerCreate(ctx context.Context, cfg *container.Config, host *container.HostConfig, net *network.NetworkingConfig, platform *ocispec.Platform, name string) (container.CreateResponse, error)
	ContainerAttach(ctx context.Context, id string, opts container.AttachOptions) (types.HijackedResponse, error)
	ContainerStart(ctx context.Context, id string, opts container.StartOptions) error
	ContainerWait(ctx context.Context, id string, cond container.WaitCondition) (<-chan container.WaitResponse, <-chan error)
	ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error)
	ContainerStop(ctx context.Context, id string, opts container.StopOptions) error
	ContainerList(ctx context.Context, opts container.ListOptions) ([]container.Summary, error)
	ContainerRemove(ctx context.Context, id string, opts container.RemoveOptions) error
	NetworkCreate(ctx context.Context, name string, opts network.CreateOptions) (network.CreateResponse, error)
	NetworkList(ctx context.Context, opts network.ListOptions) ([]network.Summary, error)
	NetworkInspect(ctx context.Context, id string, opts network.InspectOptions) (network.Inspect, error)
	NetworkRemove(ctx context.Context, id string) error
	VolumeList(ctx context.Context, opts volume.ListOptions) (volume.ListResponse, error)
	VolumeRemove(ctx context.Context, id string, force bool) error
	Ping(ctx context.Context) (types.Ping, error)
	Close() error
}

// Executor runs jobs in Docker containers. It is safe for concurrent use by
// many jobs; see executor.Executor for the call order within one job.
type Executor struct {
	api dockerAPI
	cfg Config
	log *slog.Logger

	images    sync.Map                      // image reference → struct{}: known to be present
	private   sync.Map                      // image reference → struct{}: pulled with credentials
	lastImage atomic.Value                  // string: the image of the last step created, for Reclaim
	noPipe    atomic.Bool                   // an output pipe could not be made once (logged then)
	pipeDir   func(workspace string) string // where output pipes are made (pipeDirOf; tests change it)

	mu       sync.Mutex
	networks map[string]string // job ID → name of the job's network

	slots *slotPool // nil: jobs without services share Config.Network
	guard guard     // protects the networks of isolated jobs (guard.go)
}

var _ executor.Executor = (*Executor)(nil)

// New connects to the Docker engine named by the environment (DOCKER_HOST and
// friends), negotiating the API version with it. It does not contact the
// engine: the first call that does reports an unreachable daemon.
func New(cfg Config, logger *slog.Logger) (*Executor, error) {
	if cfg.RunnerID == "" {
		return nil, errors.New("docker executor: RunnerID is required")
	}
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return newExecutor(cli, cfg, logger), nil
}

func newExecutor(api dockerAPI, cfg Config, logger *slog.Logger) *Executor {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Executor{
		api:      api,
		cfg:      cfg.withDefaults(),
		log:      logger,
		networks: make(map[string]string),
		guard:    guard{bridges: make(map[string]string)},
		pipeDir:  pipeDirOf,
	}
}

// PingTimeout bounds Connect's check that the engine answers.
const PingTimeout = 10 * time.Second

// Connect is New followed by a Ping bounded by PingTimeout and the choice of
// Config.Isolation: the executor returned talks to an engine that answered.
// Commands and daemons that need Docker at start use it; on error nothing is
// left open.
func Connect(ctx context.Context, cfg Config, logger *slog.Logger) (*Executor, error) {
	e, err := New(cfg, logger)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, PingTimeout)
	defer cancel()
	if err := e.Ping(ctx); err != nil {
		e.Close()
		return nil, err
	}
	if err := e.isolate(ctx); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// Ping checks that the engine answers (and settles the API version). Callers
// that choose between executors, such as `narwhal exec --executor auto`, use it.
func (e *Executor) Ping(ctx context.Context) error {
	if _, err := e.api.Ping(ctx); err != nil {
		return fmt.Errorf("docker engine: %w", err)
	}
	return nil
}

// Close removes the slot networks (best effort, bounded by
// SlotRemoveTimeout; call it after the last job's Teardown), then the guard's
// rules, and releases the connection to the engine. It removes nothing else.
func (e *Executor) Close() error {
	return errors.Join(e.removeSlots(), e.closeGuard(), e.api.Close())
}
