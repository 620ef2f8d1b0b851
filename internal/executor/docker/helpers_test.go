package docker

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"github.com/narwhal-ci/narwhal/internal/executor"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// dockerClient returns a client of the test engine, skipping (failing in CI)
// when there is none.
func dockerClient(t testing.TB) *client.Client {
	t.Helper()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx); err != nil {
		cli.Close()
		testenv.Missing(t, "the Docker engine ("+err.Error()+")")
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// newTestExecutor returns an Executor with a runner ID of its own, the test
// image and, at the end of the test, a check that nothing of it is left (then a
// sweep, so that a failed test leaves nothing either).
func newTestExecutor(t testing.TB, cfg Config) (*Executor, string) {
	t.Helper()
	img := testenv.Image(t)
	cli := dockerClient(t)
	cfg.RunnerID = "test-" + randomHex(6)
	if cfg.StopGrace == 0 {
		cfg.StopGrace = time.Second
	}
	e, err := New(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := e.Sweep(context.Background()); err != nil {
			t.Errorf("final sweep: %v", err)
		}
		e.Close()
	})
	t.Cleanup(func() { assertNoLeftovers(t, cli, cfg.RunnerID) })
	return e, img
}

// assertNoLeftovers fails the test if a container, network or volume labelled
// with runnerID exists.
func assertNoLeftovers(t testing.TB, cli *client.Client, runnerID string) {
	t.Helper()
	n := countLabelled(t, cli, LabelRunner+"="+runnerID)
	if n.containers+n.networks+n.volumes != 0 {
		t.Errorf("runner %s left %+v", runnerID, n)
	}
}

type counts struct{ containers, networks, volumes int }

// countLabelled counts the containers, networks and volumes carrying label.
func countLabelled(t testing.TB, cli *client.Client, label string) counts {
	t.Helper()
	ctx := context.Background()
	f := filtersFor(label)
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatalf("list containers: %v", err)
	}
	ns, err := cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		t.Fatalf("list networks: %v", err)
	}
	vs, err := cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		t.Fatalf("list volumes: %v", err)
	}
	return counts{len(cs), len(ns), len(vs.Volumes)}
}

// newJob returns a job with a fresh workspace and the given services.
func newJob(t testing.TB, services ...executor.Service) *executor.Job {
	return &executor.Job{ID: "job-" + randomHex(4), Workspace: t.TempDir(), Services: services}
}

// teardown tears job down and fails the test on error.
func teardown(t testing.TB, e *Executor, job *executor.Job) {
	t.Helper()
	if err := e.Teardown(context.Background(), job); err != nil {
		t.Errorf("teardown: %v", err)
	}
}

// run runs one step and returns its result and output.
func run(t testing.TB, ctx context.Context, e *Executor, job *executor.Job, step *executor.Step) (executor.Result, string) {
	t.Helper()
	var out bytes.Buffer
	res, err := e.Run(ctx, job, step, &out)
	if err != nil {
		t.Fatalf("run %s: %v\noutput:\n%s", step.Name, err, out.String())
	}
	return res, out.String()
}

// watcher is an output writer that reports when a marker has been written.
type watcher struct {
	marker string
	seen   chan struct{}
	once   sync.Once
	mu     sync.Mutex
	buf    bytes.Buffer
}

func newWatcher(marker string) *watcher {
	return &watcher{marker: marker, seen: make(chan struct{})}
}

func (w *watcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.marker) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *watcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// filtersFor selects objects carrying label (key=value).
func filtersFor(label string) filters.Args { return filters.NewArgs(filters.Arg("label", label)) }
