package docker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/executor"
)

// absentImage cannot exist: no registry is reachable, so its pull fails fast.
const absentImage = "narwhal-test/absent:never"

func TestServiceReachedByName(t *testing.T) {
	t.Parallel()
	e, img := newTestExecutor(t, Config{})
	cli := dockerClient(t)
	job := newJob(t, executor.Service{Name: "greeter", Image: img, Command: []string{"nc", "-ll", "-p", "8080", "-e", "echo", "hi"}})
	ctx := context.Background()
	if err := e.Setup(ctx, job); err != nil {
		t.Fatal(err)
	}
	// busybox-static resolves names only with its own nslookup (no NSS), so
	// the step asks the engine's DNS for the service, then connects.
	step := &executor.Step{Name: "client", Image: img, Timeout: time.Minute, Commands: []string{
		`for i in $(seq 100); do ` +
			`ip=$(nslookup greeter 2>/dev/null | awk '/^Name:/{f=1} f&&/^Address/{print $2; exit}'); ` +
			`[ -n "$ip" ] && got=$(nc "$ip" 8080 </dev/null 2>/dev/null) && [ -n "$got" ] && break; sleep 0.1; done`,
		`echo "got: $got"`,
	}}
	res, out := run(t, ctx, e, job, step)
	if res.ExitCode != 0 || !strings.Contains(out, "got: hi") {
		t.Errorf("result %+v, output:\n%s", res, out)
	}
	if n := countLabelled(t, cli, LabelJob+"="+job.ID); n.networks != 1 || n.containers != 2 {
		t.Errorf("job objects before teardown: %+v, want a network, a service and a step", n)
	}
	teardown(t, e, job)
	if n := countLabelled(t, cli, LabelJob+"="+job.ID); n != (counts{}) {
		t.Errorf("after teardown: %+v", n)
	}
	teardown(t, e, job) // idempotent
}

func TestTeardownAfterFailedSetup(t *testing.T) {
	t.Parallel()
	e, img := newTestExecutor(t, Config{})
	cli := dockerClient(t)
	job := newJob(t,
		executor.Service{Name: "good", Image: img, Command: []string{"sleep", "600"}},
		executor.Service{Name: "bad", Image: absentImage},
	)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	err := e.Setup(ctx, job)
	if err == nil || !strings.Contains(err.Error(), `pull image "`+absentImage+`"`) {
		t.Fatalf("setup error %v, want a failed pull naming the image", err)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("failed pull took %v", took)
	}
	if n := countLabelled(t, cli, LabelJob+"="+job.ID); n.networks != 1 || n.containers != 1 {
		t.Errorf("before teardown: %+v, want the job network and the good service", n)
	}
	teardown(t, e, job)
	teardown(t, e, job)
	if n := countLabelled(t, cli, LabelJob+"="+job.ID); n != (counts{}) {
		t.Errorf("after teardown: %+v", n)
	}
}

func TestRunPullFailure(t *testing.T) {
	t.Parallel()
	e, _ := newTestExecutor(t, Config{})
	job := newJob(t)
	defer teardown(t, e, job)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out strings.Builder
	_, err := e.Run(ctx, job, &executor.Step{Name: "absent", Image: absentImage, Commands: []string{"true"}}, &out)
	if err == nil || !strings.Contains(err.Error(), `pull image "`+absentImage+`"`) {
		t.Errorf("run error %v, want a failed pull naming the image", err)
	}
}

func TestRunWithoutSetupOfServices(t *testing.T) {
	t.Parallel()
	e, img := newTestExecutor(t, Config{})
	job := newJob(t, executor.Service{Name: "svc", Image: img})
	_, err := e.Run(context.Background(), job, &executor.Step{Name: "s", Image: img, Commands: []string{"true"}}, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "Setup") {
		t.Errorf("run error %v, want one saying Setup did not succeed", err)
	}
}

func TestSetupRejectsRelativeWorkspace(t *testing.T) {
	t.Parallel()
	e, _ := newTestExecutor(t, Config{})
	job := &executor.Job{ID: "j", Workspace: "relative/dir"}
	if err := e.Setup(context.Background(), job); err == nil {
		t.Error("setup accepted a relative workspace")
	}
	teardown(t, e, job)
}
