// Package infra holds the tests of the deployment files: the systemd unit
// of runnerd, its installer (make install-runnerd) and the runner host
// CloudFormation template.
package infra

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// unit reads runnerd.service as section → key → values (a key may repeat).
func unit(t *testing.T) map[string]map[string][]string {
	t.Helper()
	raw, err := os.ReadFile("runnerd.service")
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]map[string][]string{}
	var cur map[string][]string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			cur = map[string][]string{}
			sections[strings.Trim(line, "[]")] = cur
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || cur == nil {
				t.Fatalf("runnerd.service: bad line %q", line)
			}
			cur[k] = append(cur[k], v)
		}
	}
	return sections
}

// exampleConfig is what the unit must agree with in runnerd.example.yaml.
type exampleConfig struct {
	WorkDir      string `yaml:"work_dir"`
	DrainTimeout string `yaml:"drain_timeout"`
}

// TestUnitSettings checks the unit's contract with runnerd: notify with a
// watchdog, a user in the docker group, the sandbox, and room for the drain
// and the work directory of the example configuration.
func TestUnitSettings(t *testing.T) {
	t.Parallel()
	u := unit(t)
	svc := u["Service"]
	want := map[string]string{
		"Type": "notify", "WatchdogSec": "30", "Restart": "on-failure", "User": "narwhal",
		"SupplementaryGroups": "docker", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
		"PrivateTmp": "yes", "LimitNOFILE": "65536", "ExecReload": "/bin/kill -HUP $MAINPID",
		"KillSignal": "SIGTERM", "KillMode": "mixed",
		"ExecStart": "/usr/local/bin/runnerd --config /etc/narwhal/runnerd.yaml",
	}
	for k, v := range want {
		if got := svc[k]; len(got) != 1 || got[0] != v {
			t.Errorf("[Service] %s = %q, want %q", k, got, v)
		}
	}
	if got := u["Install"]["WantedBy"]; len(got) != 1 || got[0] != "multi-user.target" {
		t.Errorf("[Install] WantedBy = %q", got)
	}
	raw, err := os.ReadFile("runnerd.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg exampleConfig
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if rw := strings.Join(svc["ReadWritePaths"], " "); !strings.Contains(" "+rw+" ", " "+cfg.WorkDir+" ") {
		t.Errorf("ReadWritePaths %q lacks work_dir %s of runnerd.example.yaml", rw, cfg.WorkDir)
	}
	drain, err := time.ParseDuration(cfg.DrainTimeout)
	if err != nil {
		t.Fatalf("drain_timeout %q: %v", cfg.DrainTimeout, err)
	}
	stop, err := time.ParseDuration(strings.TrimSuffix(strings.Join(svc["TimeoutStopSec"], ""), "in")) // 6min → 6m
	if err != nil || stop < drain+30*time.Second {
		t.Errorf("TimeoutStopSec %q leaves no room after the %v drain (%v)", svc["TimeoutStopSec"], drain, err)
	}
}

// TestUnitVerifies runs systemd-analyze verify on the unit, with ExecStart
// pointing at an existing binary; any complaint fails.
func TestUnitVerifies(t *testing.T) {
	t.Parallel()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		testenv.Missing(t, "systemd-analyze (Debian package systemd)")
	}
	raw, err := os.ReadFile("runnerd.service")
	if err != nil {
		t.Fatal(err)
	}
	copy := filepath.Join(t.TempDir(), "runnerd.service")
	os.WriteFile(copy, bytes.ReplaceAll(raw, []byte("/usr/local/bin/runnerd"), []byte("/bin/true")), 0o644)
	out, err := exec.Command(analyze, "verify", copy).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestInstallRunnerd runs `make install-runnerd` into a staging root twice:
// binary, unit and configuration land there, and an edited configuration
// survives the second install. It builds with the default flags (not
// static, not -trimpath) to reuse the build cache of the other tests: a
// static build of runnerd from scratch takes minutes on a small machine.
func TestInstallRunnerd(t *testing.T) {
	t.Parallel()
	root, build := t.TempDir(), t.TempDir()
	install := func() string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "make", "--no-print-directory", "-f", "mk/packaging.mk", "install-runnerd",
			"DESTDIR="+root, "RUNNERD_BUILD="+build, "RUNNERD_ENV=", "RUNNERD_GOFLAGS=")
		cmd.Dir = ".."
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make install-runnerd: %v\n%s", err, out)
		}
		return string(out)
	}
	install()
	bin := filepath.Join(root, "usr/local/bin/runnerd")
	if fi, err := os.Stat(bin); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("binary: %v %v", fi, err)
	}
	if out, err := exec.Command(bin, "--version").Output(); err != nil || !strings.HasPrefix(string(out), "runnerd ") {
		t.Fatalf("installed runnerd --version: %q %v", out, err)
	}
	sameFile(t, filepath.Join(root, "etc/systemd/system/runnerd.service"), "runnerd.service", 0o644)
	conf := filepath.Join(root, "etc/narwhal/runnerd.yaml")
	sameFile(t, conf, "runnerd.example.yaml", 0o640)

	if got, err := os.ReadFile(filepath.Join(root, "etc/docker/daemon.json")); err != nil || !strings.Contains(string(got), `"icc": false`) {
		t.Errorf("daemon.json does not turn icc off: %q %v", got, err)
	}
	if err := os.WriteFile(conf, []byte("id: edited\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if out := install(); !strings.Contains(out, "kept the existing") {
		t.Errorf("second install did not say it kept the configuration:\n%s", out)
	}
	if got, _ := os.ReadFile(conf); string(got) != "id: edited\n" {
		t.Fatalf("the second install overwrote the configuration: %q", got)
	}
}

func sameFile(t *testing.T, path, source string, mode os.FileMode) {
	t.Helper()
	got, err := os.ReadFile(path)
	want, _ := os.ReadFile(source)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s (%v)", path, source, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != mode {
		t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), mode)
	}
}

// TestRunnerHostTemplate: cfn-lint finds nothing in runner-host.yaml.
func TestRunnerHostTemplate(t *testing.T) {
	t.Parallel()
	lint, err := exec.LookPath("cfn-lint")
	if err != nil {
		testenv.Missing(t, "cfn-lint (pip install cfn-lint)")
	}
	if out, err := exec.Command(lint, "runner-host.yaml").CombinedOutput(); err != nil {
		t.Fatalf("cfn-lint runner-host.yaml: %v\n%s", err, out)
	}
}
