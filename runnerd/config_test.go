package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/cache"
)

// envMap is a getenv over a map.
func envMap(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

const minimalYAML = `tls: {cert: /c.pem, key: /k.pem}
tokens: ["0123456789abcdef0123"]
`

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "runnerd.yaml")
	writeFile(t, path, []byte(body))
	return path
}

func TestConfigFileAndDefaults(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, `id: r1
labels: [linux, docker]
capacity: 4
listen: 0.0.0.0:7070
tls:
  cert: /etc/narwhal/runner.crt
  key: /etc/narwhal/runner.key
tokens: ["0123456789abcdef0123"]
executor:
  kind: docker
  memory: 512m
  cpus: 1.5
  pids: 256
  stop_grace: 5s
work_dir: /srv/narwhal
heartbeat: 10s
drain_timeout: 2m
report:
  amqp_url: amqp://u:p@mq:5672/
logs:
  s3_bucket: logs
  s3_prefix: jobs
metrics_listen: 127.0.0.1:9200
`)
	c, err := loadConfig(path, envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != "r1" || c.Capacity != 4 || !slices.Equal(c.Labels, []string{"linux", "docker"}) ||
		c.Advertise != "r1:7070" || c.Executor.StopGrace != 5*time.Second || c.Heartbeat != 10*time.Second ||
		c.DrainTimeout != 2*time.Minute || c.Logs.S3Bucket != "logs" || c.Report.File != "/srv/narwhal/reports.jsonl" {
		t.Fatalf("config: %+v", c)
	}
	if mem, _ := parseSize(c.Executor.Memory); mem != 512<<20 {
		t.Fatalf("memory %d", mem)
	}

	c, err = loadConfig(writeConfig(t, minimalYAML), envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if c.ID != host || c.Capacity != 1 || c.Listen != defaultListen || c.WorkDir != defaultWorkDir ||
		c.Executor.Kind != "docker" || c.DrainTimeout != 5*time.Minute || c.MetricsListen != defaultMetricsListen ||
		c.Logs.Dir != filepath.Join(defaultWorkDir, "logs") {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestConfigIsStrict(t *testing.T) {
	t.Parallel()
	_, err := loadConfig(writeConfig(t, minimalYAML+"capacty: 3\n"), envMap(nil))
	if err == nil || !strings.Contains(err.Error(), "field capacty not found") {
		t.Fatalf("unknown key: %v", err)
	}
	_, err = loadConfig(writeConfig(t, minimalYAML+"executor: {kind: docker, memroy: 1g}\n"), envMap(nil))
	if err == nil || !strings.Contains(err.Error(), "memroy") {
		t.Fatalf("unknown nested key: %v", err)
	}
}

func TestConfigRejects(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"no tls":        `tokens: ["0123456789abcdef0123"]`,
		"no token":      `tls: {cert: /c, key: /k}`,
		"short token":   `{tls: {cert: /c, key: /k}, tokens: [short]}`,
		"bad executor":  minimalYAML + "executor: {kind: podman}\n",
		"scale in prod": minimalYAML + "executor: {kind: docker, scale: true}\n",
		"bad memory":    minimalYAML + "executor: {memory: lots}\n",
		"bad isolation": minimalYAML + "executor: {isolation: none}\n",
		"bad duration":  minimalYAML + "heartbeat: often\n",
	} {
		if _, err := loadConfig(writeConfig(t, body), envMap(nil)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	writeFile(t, tokenFile, []byte("# rotated\nfile-token-0123456789\n"))
	c, err := loadConfig(writeConfig(t, "id: from-file\ncapacity: 2\n"+minimalYAML), envMap(map[string]string{
		"NARWHAL_RUNNER_ID":         "from-env",
		"NARWHAL_RUNNER_LABELS":     "linux, gpu,,",
		"NARWHAL_RUNNER_CAPACITY":   "8",
		"NARWHAL_RUNNER_LISTEN":     "10.0.0.7:7071",
		"NARWHAL_RUNNER_TOKEN":      "env-token-0123456789",
		"NARWHAL_RUNNER_TOKEN_FILE": tokenFile,
		"NARWHAL_RUNNER_TLS_CERT":   "/env/cert",
		"NARWHAL_RUNNER_WORKDIR":    dir,
		"NARWHAL_RUNNER_EXECUTOR":   "fake",
		"NARWHAL_RUNNER_SCALE_TEST": "1",
		"NARWHAL_AMQP_URL":          "amqp://env/",
		"NARWHAL_LOGS_BUCKET":       "bucket",
	}))
	if err != nil {
		t.Fatal(err)
	}
	wantTokens := []string{"0123456789abcdef0123", "env-token-0123456789", "file-token-0123456789"}
	if c.ID != "from-env" || !slices.Equal(c.Labels, []string{"linux", "gpu"}) || c.Capacity != 8 ||
		c.Advertise != "10.0.0.7:7071" || !slices.Equal(c.Tokens, wantTokens) || c.TLS.Cert != "/env/cert" ||
		c.WorkDir != dir || c.Executor.Kind != "fake" || !c.Executor.Scale || c.Report.AMQPURL != "amqp://env/" ||
		c.Logs.S3Bucket != "bucket" {
		t.Fatalf("config: %+v", c)
	}
	if _, err := loadConfig("", envMap(map[string]string{"NARWHAL_RUNNER_CAPACITY": "many"})); err == nil ||
		!strings.Contains(err.Error(), "NARWHAL_RUNNER_CAPACITY") {
		t.Fatalf("bad capacity: %v", err)
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{
		"": 0, "1024": 1024, "512m": 512 << 20, "2g": 2 << 30, "2GiB": 2 << 30, "64KB": 64 << 10, "1.5g": 3 << 29, "-1": -1,
	} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := parseSize("g"); err == nil {
		t.Error(`parseSize("g") accepted`)
	}
}

// TestExampleConfigLoads keeps infra/runnerd.example.yaml valid.
func TestExampleConfigLoads(t *testing.T) {
	t.Parallel()
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeFile(t, tokenFile, []byte("example-token-0123456789\n"))
	c, err := loadConfig("../infra/runnerd.example.yaml", envMap(map[string]string{"NARWHAL_RUNNER_TOKEN_FILE": tokenFile}))
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != "runner-1" || c.Capacity != 4 || c.Logs.S3Bucket != "narwhal-logs" || len(c.Tokens) != 1 ||
		c.Cache.S3Bucket != "narwhal-logs" || c.Cache.maxBytes() != 5<<30 || c.Artifacts.S3Bucket != "narwhal-logs" {
		t.Fatalf("example: %+v", c)
	}
}

func TestStoreConfigs(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(writeConfig(t, minimalYAML+"work_dir: /srv/nw\n"), envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Snapshots: StoreConfig{Dir: "/srv/nw/snapshots"},
		Cache:     CacheConfig{StoreConfig: StoreConfig{Dir: "/srv/nw/cache"}, MaxBytesPerRepo: defaultCacheMaxBytes},
		Artifacts: StoreConfig{Dir: "/srv/nw/artifacts"}}
	if c.Snapshots != want.Snapshots || c.Cache != want.Cache || c.Artifacts != want.Artifacts {
		t.Fatalf("defaults: %+v %+v %+v", c.Snapshots, c.Cache, c.Artifacts)
	}
	if c.Cache.maxBytes() != cache.DefaultMaxBytes || !c.Artifacts.local() {
		t.Fatalf("default cap %d, artifacts local %v", c.Cache.maxBytes(), c.Artifacts.local())
	}

	c, err = loadConfig(writeConfig(t, minimalYAML+`cache: {dir: /c, s3_bucket: b, s3_prefix: p, max_bytes_per_repo: 2g}
artifacts: {s3_bucket: arts, s3_prefix: ci, off: true}
`), envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Cache != (CacheConfig{StoreConfig{"/c", "b", "p", false}, "2g"}) || c.Cache.maxBytes() != 2<<30 ||
		c.Artifacts != (StoreConfig{filepath.Join(defaultWorkDir, "artifacts"), "arts", "ci", true}) || c.Artifacts.local() {
		t.Fatalf("file: %+v %+v", c.Cache, c.Artifacts)
	}

	c, err = loadConfig(writeConfig(t, minimalYAML+"cache: {max_bytes_per_repo: 1048576}\n"), envMap(map[string]string{
		"NARWHAL_CACHE_DIR": "/env/cache", "NARWHAL_CACHE_BUCKET": "cb", "NARWHAL_CACHE_PREFIX": "cp",
		"NARWHAL_CACHE_OFF": "true", "NARWHAL_ARTIFACTS_DIR": "/env/arts", "NARWHAL_ARTIFACTS_BUCKET": "ab",
		"NARWHAL_ARTIFACTS_PREFIX": "ap", "NARWHAL_ARTIFACTS_OFF": "false",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Cache != (CacheConfig{StoreConfig{"/env/cache", "cb", "cp", true}, "1048576"}) || c.Cache.maxBytes() != 1<<20 ||
		c.Artifacts != (StoreConfig{"/env/arts", "ab", "ap", false}) {
		t.Fatalf("env: %+v %+v", c.Cache, c.Artifacts)
	}
	c, err = loadConfig(writeConfig(t, minimalYAML+"cache: {max_bytes_per_repo: 1g}\n"),
		envMap(map[string]string{"NARWHAL_CACHE_MAX_BYTES_PER_REPO": "300m"}))
	if err != nil || c.Cache.maxBytes() != 300<<20 {
		t.Fatalf("env cap: %v %+v", err, c)
	}
}

func TestStoreConfigRejects(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ body, want string }{
		"unknown cache key":    {minimalYAML + "cache: {max_bytes: 1g}\n", "field max_bytes not found"},
		"unknown artifact key": {minimalYAML + "artifacts: {bucket: b}\n", "field bucket not found"},
		"bad cap":              {minimalYAML + "cache: {max_bytes_per_repo: lots}\n", "cache.max_bytes_per_repo"},
		"zero cap":             {minimalYAML + "cache: {max_bytes_per_repo: 0}\n", "above zero"},
		"negative cap":         {minimalYAML + "cache: {max_bytes_per_repo: -1g}\n", "above zero"},
	} {
		if _, err := loadConfig(writeConfig(t, tc.body), envMap(nil)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
	_, err := loadConfig(writeConfig(t, minimalYAML), envMap(map[string]string{"NARWHAL_ARTIFACTS_OFF": "sometimes"}))
	if err == nil || !strings.Contains(err.Error(), "NARWHAL_ARTIFACTS_OFF") {
		t.Fatalf("bad boolean: %v", err)
	}
}
