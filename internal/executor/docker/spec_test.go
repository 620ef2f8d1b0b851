package docker

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"

	"github.com/narwhal-ci/narwhal/internal/executor"
)

func specConfig() Config {
	return Config{RunnerID: "r1", StopGrace: 1500 * time.Millisecond}.withDefaults()
}

func TestContainerSpec(t *testing.T) {
	job := &executor.Job{ID: "job-1", Workspace: "/srv/ws/job-1"}
	step := &executor.Step{
		Name:       "build",
		Image:      "golang:1.26",
		Commands:   []string{"go build ./...", "echo 'done'"},
		Env:        map[string]string{"Z": "last", "A": "first", "M": "a=b c"},
		WorkingDir: "sub/dir",
	}
	tests := []struct {
		name    string
		cfg     Config
		network string
		check   func(t *testing.T, cc *container.Config, hc *container.HostConfig)
	}{
		{"entrypoint runs the script with sh -e", specConfig(), "", func(t *testing.T, cc *container.Config, hc *container.HostConfig) {
			want := []string{"/bin/sh", "-e", "-c", executor.Script(step.Commands)}
			if !slices.Equal(cc.Entrypoint, want) || len(cc.Cmd) != 0 {
				t.Errorf("entrypoint %q cmd %q, want %q and no cmd", cc.Entrypoint, cc.Cmd, want)
			}
			if cc.Image != "golang:1.26" || cc.Tty || cc.OpenStdin {
				t.Errorf("image %q tty %v stdin %v", cc.Image, cc.Tty, cc.OpenStdin)
			}
		}},
		{"env sorted by key", specConfig(), "", func(t *testing.T, cc *container.Config, hc *container.HostConfig) {
			want := []string{"A=first", "M=a=b c", "Z=last"}
			if !slices.Equal(cc.Env, want) {
				t.Errorf("env %q, want %q", cc.Env, want)
			}
		}},
		{"workspace mounted, working dir inside it", specConfig(), "", func(t *testing.T, cc *container.Config, hc *container.HostConfig) {
			want := []mount.Mount{{Type: mount.TypeBind, Source: "/srv/ws/job-1", Target: "/workspace"}}
			if !slices.Equal(hc.Mounts, want) || len(hc.Binds) != 0 {
				t.Errorf("mounts %+v binds %q, want %+v", hc.Mounts, hc.Binds, want)
			}
			if cc.WorkingDir != "/workspace/sub/dir" {
				t.Errorf("working dir %q", cc.WorkingDir)
			}
		}},
		{"default limits", specConfig(), "", func(t *testing.T, cc *container.Config, hc *container.HostConfig) {
			if hc.Memory != 2<<30 || hc.MemorySwap != hc.Memory || hc.NanoCPUs != 2e9 ||
				hc.PidsLimit == nil || *hc.PidsLimit != 512 {
				t.Errorf("memory %d swap %d cpus %d pids %v", hc.Memory, hc.MemorySwap, hc.NanoCPUs, hc.PidsLimit)
			}
			if cc.StopTimeout == nil || *cc.StopTimeout != 2 {
				t.Errorf("stop timeout %v, want 2 (1.5s rounded up)", cc.StopTimeout)
			}
		}},
		{"configured limits", Config{RunnerID: "r", Memory: 32 << 20, CPUs: 0.5, PidsLimit: 64}.withDefaults(), "",
			func(t *testing.T, cc *container.Config, hc *container.HostConfig) {
				if hc.Memory != 32<<20 || hc.MemorySwap != 32<<20 || hc.NanoCPUs != 5e8 || *hc.PidsLimit != 64 {
					t.Errorf("memory %d swap %d cpus %d pids %d", hc.Memory, hc.MemorySwap, hc.NanoCPUs, *hc.PidsLimit)
				}
			}},
		{"negative limits disabled", Config{RunnerID: "r", Memory: -1, CPUs: -1, PidsLimit: -1}.withDefaults(), "",
			func(t *testing.T, cc *container.Config, hc *container.HostConfig) {
				if hc.Memory != 0 || hc.MemorySwap != 0 || hc.NanoCPUs != 0 || hc.PidsLimit != nil {
					t.Errorf("memory %d swap %d cpus %d pids %v", hc.Memory, hc.MemorySwap, hc.NanoCPUs, hc.PidsLimit)
				}
			}},
		{"hardened", specConfig(), "", func(t *testing.T, cc *container.Config, hc *container.HostConfig) {
			if hc.Privileged || hc.Init == nil || !*hc.Init {
				t.Errorf("privileged %v init %v", hc.Privileged, hc.Init)
			}
			if !slices.Contains(hc.SecurityOpt, "no-new-privileges") {
				t.Errorf("security opts %q", hc.SecurityOpt)
			}
			if !slices.Equal(hc.CapDrop, DefaultCapDrop) || len(hc.CapAdd) != 0 {
				t.Errorf("cap drop %q add %q", hc.CapDrop, hc.CapAdd)
			}
			if hc.LogConfig.Type != "none" {
				t.Errorf("log driver %q, want none", hc.LogConfig.Type)
			}
		}},
		{"labels", specConfig(), "", func(t *testing.T, cc *container.Config, hc *container.HostConfig) {
			want := map[string]string{LabelManaged: "true", LabelRunner: "r1", LabelJob: "job-1", LabelStep: "build"}
			if len(cc.Labels) != len(want) {
				t.Errorf("labels %v, want %v", cc.Labels, want)
			}
			for k, v := range want {
				if cc.Labels[k] != v {
					t.Errorf("label %s = %q, want %q", k, cc.Labels[k], v)
				}
			}
		}},
		{"default bridge without services", specConfig(), "", func(t *testing.T, cc *container.Config, hc *container.HostConfig) {
			if hc.NetworkMode != "" {
				t.Errorf("network mode %q, want the default", hc.NetworkMode)
			}
		}},
		{"configured network without services", Config{RunnerID: "r", Network: "ci"}.withDefaults(), "",
			func(t *testing.T, cc *container.Config, hc *container.HostConfig) {
				if hc.NetworkMode != "ci" {
					t.Errorf("network mode %q, want ci", hc.NetworkMode)
				}
			}},
		{"job network with services", specConfig(), "narwhal-abc", func(t *testing.T, cc *container.Config, hc *container.HostConfig) {
			if hc.NetworkMode != "narwhal-abc" {
				t.Errorf("network mode %q, want narwhal-abc", hc.NetworkMode)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc, hc, _ := containerSpec(tt.cfg, job, step, tt.network)
			tt.check(t, cc, hc)
			assertNoDockerSocket(t, hc)
		})
	}
}

func TestContainerSpecNetworking(t *testing.T) {
	job := &executor.Job{ID: "j", Workspace: "/ws"}
	step := &executor.Step{Name: "s", Image: "busybox"}
	if _, _, nc := containerSpec(specConfig(), job, step, ""); nc != nil {
		t.Errorf("networking config %+v without services, want nil", nc)
	}
	_, _, nc := containerSpec(specConfig(), job, step, "narwhal-abc")
	if nc == nil || nc.EndpointsConfig["narwhal-abc"] == nil || len(nc.EndpointsConfig) != 1 {
		t.Fatalf("networking config %+v, want one endpoint on narwhal-abc", nc)
	}
}

func TestServiceSpec(t *testing.T) {
	job := &executor.Job{ID: "j", Workspace: "/ws"}
	svc := &executor.Service{Name: "db", Image: "postgres:16", Env: map[string]string{"B": "2", "A": "1"}, Command: []string{"postgres", "-F"}}
	cc, hc, nc := serviceSpec(specConfig(), job, svc, "narwhal-abc")
	if cc.Image != "postgres:16" || len(cc.Entrypoint) != 0 || !slices.Equal(cc.Cmd, svc.Command) {
		t.Errorf("image %q entrypoint %q cmd %q", cc.Image, cc.Entrypoint, cc.Cmd)
	}
	if !slices.Equal(cc.Env, []string{"A=1", "B=2"}) {
		t.Errorf("env %q", cc.Env)
	}
	if cc.Labels[LabelService] != "db" || cc.Labels[LabelJob] != "j" || cc.Labels[LabelRunner] != "r1" || cc.Labels[LabelManaged] != "true" {
		t.Errorf("labels %v", cc.Labels)
	}
	if _, ok := cc.Labels[LabelStep]; ok {
		t.Errorf("service carries a step label: %v", cc.Labels)
	}
	if hc.Privileged || hc.NetworkMode != "narwhal-abc" || hc.Memory == 0 || hc.PidsLimit == nil {
		t.Errorf("host config %+v", hc)
	}
	ep := nc.EndpointsConfig["narwhal-abc"]
	if ep == nil || !slices.Equal(ep.Aliases, []string{"db"}) {
		t.Errorf("endpoint %+v, want alias db", ep)
	}
	assertNoDockerSocket(t, hc)
}

func TestWithDefaults(t *testing.T) {
	got := Config{RunnerID: "r"}.withDefaults()
	if got.Memory != DefaultMemory || got.CPUs != DefaultCPUs || got.PidsLimit != DefaultPidsLimit ||
		got.StopGrace != DefaultStopGrace || !slices.Equal(got.CapDrop, DefaultCapDrop) {
		t.Errorf("defaults %+v", got)
	}
	if got := (Config{CapDrop: []string{}}).withDefaults(); got.CapDrop == nil || len(got.CapDrop) != 0 {
		t.Errorf("empty CapDrop replaced: %q", got.CapDrop)
	}
}

func assertNoDockerSocket(t *testing.T, hc *container.HostConfig) {
	t.Helper()
	for _, b := range hc.Binds {
		if strings.Contains(b, "docker.sock") {
			t.Errorf("docker socket bound: %q", b)
		}
	}
	for _, m := range hc.Mounts {
		if strings.Contains(m.Source, "docker.sock") || m.Source == "/var/run" || m.Source == "/run" || m.Source == "/" {
			t.Errorf("docker socket reachable through mount %+v", m)
		}
	}
}
