package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/narwhal-ci/narwhal/internal/diskguard"
	"github.com/narwhal-ci/narwhal/internal/rpc"
)

// Config is runnerd's configuration file (YAML, strict: an unknown key is an
// error), after the environment overrides of env.go. docs/runnerd.md is its
// reference; infra/runnerd.example.yaml an example.
type Config struct {
	ID            string         `yaml:"id"`
	Labels        []string       `yaml:"labels"`
	Capacity      int            `yaml:"capacity"`
	Listen        string         `yaml:"listen"`
	Advertise     string         `yaml:"advertise"`
	TLS           TLSConfig      `yaml:"tls"`
	Tokens        []string       `yaml:"tokens"`
	TokenFile     string         `yaml:"token_file"`
	Executor      ExecutorConfig `yaml:"executor"`
	WorkDir       string         `yaml:"work_dir"`
	Heartbeat     time.Duration  `yaml:"heartbeat"`
	DrainTimeout  time.Duration  `yaml:"drain_timeout"`
	JobTimeout    time.Duration  `yaml:"job_timeout"`
	Report        ReportConfig   `yaml:"report"`
	Logs          LogsConfig     `yaml:"logs"`
	Snapshots     StoreConfig    `yaml:"snapshots"`
	Cache         CacheConfig    `yaml:"cache"`
	Artifacts     StoreConfig    `yaml:"artifacts"`
	MetricsListen string         `yaml:"metrics_listen"`
	LogLevel      string         `yaml:"log_level"`
	// GitCAFile is a PEM file of the certificates git trusts for https
	// clones instead of the system's (a GitHub Enterprise Server with a
	// private CA); "" uses the system's, or GIT_SSL_CAINFO when runnerd's
	// environment sets it.
	GitCAFile string `yaml:"git_ca_file"`
	// Disk is the disk guard (docs/runnerd.md, "Disk").
	Disk DiskConfig `yaml:"disk"`
}

// DiskConfig is the disk guard (internal/diskguard): above HighWatermark
// percent used, on the filesystem of the work dir, the logs, the
// snapshots or Docker's data root, runnerd evicts (least recently used
// first) and takes no jobs until every one is under LowWatermark. Off
// turns it off.
type DiskConfig struct {
	HighWatermark float64       `yaml:"high_watermark"`
	LowWatermark  float64       `yaml:"low_watermark"`
	Interval      time.Duration `yaml:"interval"`
	Off           bool          `yaml:"off"`
}

// TLSConfig names the PEM files of the gRPC server's certificate and key.
type TLSConfig struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// ExecutorConfig chooses and limits the executor.
type ExecutorConfig struct {
	Kind      string        `yaml:"kind"`   // docker (default), host, fake
	Memory    string        `yaml:"memory"` // per container: "2g", "512MiB", bytes; "-1" no limit
	CPUs      float64       `yaml:"cpus"`
	Pids      int64         `yaml:"pids"`
	StopGrace time.Duration `yaml:"stop_grace"`
	// Isolation keeps jobs of different slots apart (docker only): auto
	// (default: the default bridge when the daemon has "icc": false, else a
	// network per slot and a warning), slot (always a network per slot) or
	// strict (refuse to start unless "icc": false).
	Isolation string `yaml:"isolation"`
	// Scale runs the fake executor on a built-in one-step pipeline without
	// cloning anything: for scale tests of runnerd only (kind must be fake).
	Scale bool `yaml:"scale"`
}

// ReportConfig says where reports go: RabbitMQ when AMQPURL is set, else a
// JSON-lines file (local use).
type ReportConfig struct {
	AMQPURL    string `yaml:"amqp_url"`
	AMQPPrefix string `yaml:"amqp_prefix"`
	File       string `yaml:"file"`
}

// LogsConfig says where job logs go: S3 when S3Bucket is set, else Dir.
type LogsConfig struct {
	Dir      string `yaml:"dir"`
	S3Bucket string `yaml:"s3_bucket"`
	S3Prefix string `yaml:"s3_prefix"`
}

// StoreConfig says where one kind of large object goes: the workspace
// snapshots of re-runs from a step, the repositories' caches or the jobs'
// artifacts (docs/runnerd.md). S3 when S3Bucket is set, which every runner
// of a fleet (and, for artifacts, the API) can reach; else Dir, on this
// runner's disk. Off keeps none. blobStore builds the store of one.
type StoreConfig struct {
	Dir      string `yaml:"dir"`
	S3Bucket string `yaml:"s3_bucket"`
	S3Prefix string `yaml:"s3_prefix"`
	Off      bool   `yaml:"off"`
}

// local says whether the store of c is on this runner's disk.
func (c StoreConfig) local() bool { return !c.Off && c.S3Bucket == "" }

// CacheConfig is the store of the repositories' caches (narwhal.yml's
// cache:) and the size each repository's entries may take in it before the
// least recently used are evicted: bytes, or a size like 512m or 10g; ""
// is defaultCacheMaxBytes.
type CacheConfig struct {
	StoreConfig     `yaml:",inline"`
	MaxBytesPerRepo string `yaml:"max_bytes_per_repo"`
}

// maxBytes is MaxBytesPerRepo in bytes (validated by loadConfig).
func (c CacheConfig) maxBytes() int64 {
	n, _ := parseSize(c.MaxBytesPerRepo)
	return n
}

// Defaults of the configuration.
const (
	defaultListen        = ":7070"
	defaultWorkDir       = "/var/lib/narwhal-runner"
	defaultMetricsListen = "127.0.0.1:9102"
	// defaultCacheMaxBytes is cache.max_bytes_per_repo's default, the
	// cache package's (cache.DefaultMaxBytes): room for a few entries of a
	// large module's build and dependency caches.
	defaultCacheMaxBytes = "5g"
)

// loadConfig reads the file at path ("" for none), applies the environment
// overrides and the defaults, and validates the result.
func loadConfig(path string, getenv func(string) string) (*Config, error) {
	c := &Config{}
	if path != "" {
		if err := readConfigFile(path, c); err != nil {
			return nil, err
		}
	}
	if err := applyEnv(c, getenv); err != nil {
		return nil, err
	}
	if err := c.complete(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// readConfigFile decodes the YAML file at path into c, refusing unknown keys.
func readConfigFile(path string, c *Config) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// complete fills in defaults and checks what runnerd cannot start without.
func (c *Config) complete() error {
	if c.ID == "" {
		host, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("no id and no host name: %w", err)
		}
		c.ID = host
	}
	if c.TokenFile != "" {
		if err := c.readTokenFile(c.TokenFile); err != nil {
			return err
		}
	}
	c.Capacity = max(c.Capacity, 1)
	c.Listen = or(c.Listen, defaultListen)
	c.WorkDir = or(c.WorkDir, defaultWorkDir)
	c.Executor.Kind = or(c.Executor.Kind, "docker")
	c.Executor.Isolation = or(c.Executor.Isolation, "auto")
	c.DrainTimeout = or(c.DrainTimeout, 5*time.Minute)
	c.Report.File = or(c.Report.File, filepath.Join(c.WorkDir, "reports.jsonl"))
	c.Logs.Dir = or(c.Logs.Dir, filepath.Join(c.WorkDir, "logs"))
	c.Snapshots.Dir = or(c.Snapshots.Dir, filepath.Join(c.WorkDir, "snapshots"))
	c.Cache.Dir = or(c.Cache.Dir, filepath.Join(c.WorkDir, "cache"))
	c.Cache.MaxBytesPerRepo = or(c.Cache.MaxBytesPerRepo, defaultCacheMaxBytes)
	c.Artifacts.Dir = or(c.Artifacts.Dir, filepath.Join(c.WorkDir, "artifacts"))
	c.Disk.HighWatermark = or(c.Disk.HighWatermark, diskguard.DefaultHigh)
	c.Disk.LowWatermark = or(c.Disk.LowWatermark, diskguard.DefaultLow)
	c.Disk.Interval = or(c.Disk.Interval, diskguard.DefaultInterval)
	if c.MetricsListen == "" {
		c.MetricsListen = defaultMetricsListen
	}
	if c.Advertise == "" {
		c.Advertise = advertiseFrom(c.Listen, c.ID)
	}
	return c.validate()
}

// validate reports the first thing runnerd cannot start with.
func (c *Config) validate() error {
	switch {
	case c.TLS.Cert == "" || c.TLS.Key == "":
		return errors.New("tls.cert and tls.key are required (make a pair with `narwhal runner-cert`)")
	case len(c.Tokens) == 0:
		return errors.New("no bearer token: set tokens, token_file or NARWHAL_RUNNER_TOKEN")
	case c.Executor.Scale && c.Executor.Kind != "fake":
		return errors.New("executor.scale is for scale tests with the fake executor only")
	}
	for i, t := range c.Tokens {
		if len(t) < rpc.MinTokenLen {
			return fmt.Errorf("token %d is shorter than %d characters", i+1, rpc.MinTokenLen)
		}
	}
	switch c.Executor.Kind {
	case "docker", "host", "fake":
	default:
		return fmt.Errorf("executor.kind %q: want docker, host or fake", c.Executor.Kind)
	}
	switch c.Executor.Isolation {
	case "auto", "slot", "strict":
	default:
		return fmt.Errorf("executor.isolation %q: want auto, slot or strict", c.Executor.Isolation)
	}
	if c.GitCAFile != "" {
		if _, err := os.Stat(c.GitCAFile); err != nil {
			return fmt.Errorf("git_ca_file: %w", err)
		}
	}
	if d := c.Disk; !(0 < d.LowWatermark && d.LowWatermark < d.HighWatermark && d.HighWatermark < 100) || d.Interval < 0 {
		return fmt.Errorf("disk: low_watermark %g, high_watermark %g, interval %s: want 0 < low < high < 100 and a positive interval",
			d.LowWatermark, d.HighWatermark, d.Interval)
	}
	if _, err := parseSize(c.Executor.Memory); err != nil {
		return fmt.Errorf("executor.memory: %w", err)
	}
	return c.validateCache()
}

// validateCache checks cache.max_bytes_per_repo: a size above zero.
func (c *Config) validateCache() error {
	n, err := parseSize(c.Cache.MaxBytesPerRepo)
	switch {
	case err != nil:
		return fmt.Errorf("cache.max_bytes_per_repo: %w", err)
	case n <= 0:
		return fmt.Errorf("cache.max_bytes_per_repo %q: want a size above zero (cache.off turns the cache off)", c.Cache.MaxBytesPerRepo)
	}
	return nil
}

// advertiseFrom derives the address to report from the listen address: its
// port on the host name when it listens on every interface.
func advertiseFrom(listen, host string) string {
	h, port, err := net.SplitHostPort(listen)
	if err != nil || (h != "" && h != "0.0.0.0" && h != "::") {
		return listen
	}
	return net.JoinHostPort(host, port)
}

// readTokenFile adds the tokens in path (one per line, # comments) to c.
func (c *Config) readTokenFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read token file: %w", err)
	}
	for line := range strings.Lines(string(data)) {
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
			c.Tokens = append(c.Tokens, t)
		}
	}
	return nil
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
