package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// envOverride applies one environment variable to the configuration.
type envOverride struct {
	name  string
	apply func(c *Config, v string) error
}

// envOverrides lists the variables that override the file, in
// docs/runnerd.md's order. An empty or unset variable changes nothing.
var envOverrides = []envOverride{
	{"NARWHAL_RUNNER_ID", func(c *Config, v string) error { c.ID = v; return nil }},
	{"NARWHAL_RUNNER_LABELS", func(c *Config, v string) error { c.Labels = splitList(v); return nil }},
	{"NARWHAL_RUNNER_CAPACITY", func(c *Config, v string) error { return atoi(v, &c.Capacity) }},
	{"NARWHAL_RUNNER_LISTEN", func(c *Config, v string) error { c.Listen = v; return nil }},
	{"NARWHAL_RUNNER_ADVERTISE", func(c *Config, v string) error { c.Advertise = v; return nil }},
	{"NARWHAL_RUNNER_TOKEN", func(c *Config, v string) error { c.Tokens = append(c.Tokens, v); return nil }},
	{"NARWHAL_RUNNER_TOKEN_FILE", func(c *Config, v string) error { c.TokenFile = v; return nil }},
	{"NARWHAL_RUNNER_TLS_CERT", func(c *Config, v string) error { c.TLS.Cert = v; return nil }},
	{"NARWHAL_RUNNER_TLS_KEY", func(c *Config, v string) error { c.TLS.Key = v; return nil }},
	{"NARWHAL_RUNNER_WORKDIR", func(c *Config, v string) error { c.WorkDir = v; return nil }},
	{"NARWHAL_RUNNER_EXECUTOR", func(c *Config, v string) error { c.Executor.Kind = v; return nil }},
	{"NARWHAL_RUNNER_SCALE_TEST", func(c *Config, v string) error { return parseBool(v, &c.Executor.Scale) }},
	{"NARWHAL_RUNNER_HEARTBEAT", func(c *Config, v string) error { return parseDuration(v, &c.Heartbeat) }},
	{"NARWHAL_RUNNER_DRAIN_TIMEOUT", func(c *Config, v string) error { return parseDuration(v, &c.DrainTimeout) }},
	{"NARWHAL_RUNNER_METRICS_LISTEN", func(c *Config, v string) error { c.MetricsListen = v; return nil }},
	{"NARWHAL_RUNNER_LOG_LEVEL", func(c *Config, v string) error { c.LogLevel = v; return nil }},
	{"NARWHAL_AMQP_URL", func(c *Config, v string) error { c.Report.AMQPURL = v; return nil }},
	{"NARWHAL_AMQP_PREFIX", func(c *Config, v string) error { c.Report.AMQPPrefix = v; return nil }},
	{"NARWHAL_REPORT_FILE", func(c *Config, v string) error { c.Report.File = v; return nil }},
	{"NARWHAL_LOGS_DIR", func(c *Config, v string) error { c.Logs.Dir = v; return nil }},
	{"NARWHAL_LOGS_BUCKET", func(c *Config, v string) error { c.Logs.S3Bucket = v; return nil }},
	{"NARWHAL_LOGS_PREFIX", func(c *Config, v string) error { c.Logs.S3Prefix = v; return nil }},
	{"NARWHAL_RUNNER_GIT_CA_FILE", func(c *Config, v string) error { c.GitCAFile = v; return nil }},
	{"NARWHAL_SNAPSHOTS_DIR", func(c *Config, v string) error { c.Snapshots.Dir = v; return nil }},
	{"NARWHAL_SNAPSHOTS_BUCKET", func(c *Config, v string) error { c.Snapshots.S3Bucket = v; return nil }},
	{"NARWHAL_SNAPSHOTS_PREFIX", func(c *Config, v string) error { c.Snapshots.S3Prefix = v; return nil }},
	{"NARWHAL_SNAPSHOTS_OFF", func(c *Config, v string) error { return parseBool(v, &c.Snapshots.Off) }},
	{"NARWHAL_CACHE_DIR", func(c *Config, v string) error { c.Cache.Dir = v; return nil }},
	{"NARWHAL_CACHE_BUCKET", func(c *Config, v string) error { c.Cache.S3Bucket = v; return nil }},
	{"NARWHAL_CACHE_PREFIX", func(c *Config, v string) error { c.Cache.S3Prefix = v; return nil }},
	{"NARWHAL_CACHE_MAX_BYTES_PER_REPO", func(c *Config, v string) error { c.Cache.MaxBytesPerRepo = v; return nil }},
	{"NARWHAL_CACHE_OFF", func(c *Config, v string) error { return parseBool(v, &c.Cache.Off) }},
	{"NARWHAL_ARTIFACTS_DIR", func(c *Config, v string) error { c.Artifacts.Dir = v; return nil }},
	{"NARWHAL_ARTIFACTS_BUCKET", func(c *Config, v string) error { c.Artifacts.S3Bucket = v; return nil }},
	{"NARWHAL_ARTIFACTS_PREFIX", func(c *Config, v string) error { c.Artifacts.S3Prefix = v; return nil }},
	{"NARWHAL_ARTIFACTS_OFF", func(c *Config, v string) error { return parseBool(v, &c.Artifacts.Off) }},
	{"NARWHAL_DISK_HIGH_WATERMARK", func(c *Config, v string) error { return parseFloat(v, &c.Disk.HighWatermark) }},
	{"NARWHAL_DISK_LOW_WATERMARK", func(c *Config, v string) error { return parseFloat(v, &c.Disk.LowWatermark) }},
	{"NARWHAL_DISK_INTERVAL", func(c *Config, v string) error { return parseDuration(v, &c.Disk.Interval) }},
	{"NARWHAL_DISK_OFF", func(c *Config, v string) error { return parseBool(v, &c.Disk.Off) }},
}

// applyEnv applies the overrides whose variables are set and not empty.
func applyEnv(c *Config, getenv func(string) string) error {
	for _, o := range envOverrides {
		v := strings.TrimSpace(getenv(o.name))
		if v == "" {
			continue
		}
		if err := o.apply(c, v); err != nil {
			return fmt.Errorf("%s: %w", o.name, err)
		}
	}
	return nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func atoi(v string, dst *int) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("not a number: %q", v)
	}
	*dst = n
	return nil
}

func parseBool(v string, dst *bool) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("not a boolean: %q", v)
	}
	*dst = b
	return nil
}

func parseFloat(v string, dst *float64) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return fmt.Errorf("not a number: %q", v)
	}
	*dst = f
	return nil
}

func parseDuration(v string, dst *time.Duration) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		return err
	}
	*dst = d
	return nil
}

// parseSize reads a size (executor.memory, cache.max_bytes_per_repo): bytes,
// or a number with a suffix k, m, g (powers of 1024; "KiB", "MB", "g" alike).
// "" is 0 (the executor's default); a negative memory disables the limit.
func parseSize(v string) (int64, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	if s == "" {
		return 0, nil
	}
	s = strings.TrimSuffix(strings.TrimSuffix(s, "b"), "i")
	mult := int64(1)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		}
		if mult > 1 {
			s = s[:n-1]
		}
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, fmt.Errorf("%q: want bytes or a size like 512m or 2g", v)
	}
	return int64(n * float64(mult)), nil
}
