package docker

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/executor"
	"github.com/narwhal-ci/narwhal/internal/executor/docker/dockertest"
)

// TestPrivateRegistry runs steps and a service from an image in the test
// stack's password-protected registry: with the credentials they run (and
// the credentials are nowhere in the container's environment); without,
// or with a wrong password, the step does not start and the error says the
// registry wants credentials; a job without them cannot use the copy that
// another job's pull left in the engine.
func TestPrivateRegistry(t *testing.T) {
	t.Parallel()
	e, _ := newTestExecutor(t, Config{})
	priv := dockertest.PrivateImage(t)
	ctx := context.Background()

	without := newJob(t)
	without.Registries = []executor.RegistryAuth{}
	wantPullRefused(t, e, without, priv.Image, "requires authentication and this job has no credentials")

	wrong := newJob(t)
	wrong.Registries = []executor.RegistryAuth{{Host: priv.Auth.Host, Username: priv.Auth.Username, Password: "wrong"}}
	wantPullRefused(t, e, wrong, priv.Image, "refused the repository's credentials")

	with := newJob(t, executor.Service{Name: "db", Image: priv.Image, Command: []string{"sleep", "30"}})
	with.Registries = []executor.RegistryAuth{priv.Auth}
	if err := e.Setup(ctx, with); err != nil {
		t.Fatalf("setup with a private service image: %v", err)
	}
	defer teardown(t, e, with)
	res, out := run(t, ctx, e, with, &executor.Step{Name: "env", Image: priv.Image, Commands: []string{"env", "echo ran-private"}})
	if res.ExitCode != 0 || !strings.Contains(out, "ran-private") {
		t.Fatalf("step with credentials: %+v\n%s", res, out)
	}
	if strings.Contains(out, priv.Auth.Password) || strings.Contains(out, priv.Auth.Username) {
		t.Fatalf("the step's environment shows the registry credentials:\n%s", out)
	}

	after := newJob(t)
	after.Registries = []executor.RegistryAuth{}
	wantPullRefused(t, e, after, priv.Image, "requires authentication")
}

func wantPullRefused(t *testing.T, e *Executor, job *executor.Job, img, want string) {
	t.Helper()
	ctx := context.Background()
	if err := e.Setup(ctx, job); err != nil {
		t.Fatal(err)
	}
	defer teardown(t, e, job)
	var out bytes.Buffer
	res, err := e.Run(ctx, job, &executor.Step{Name: "s", Image: img, Commands: []string{"true"}}, &out)
	if err == nil || !strings.Contains(err.Error(), want) || res.ExitCode != -1 {
		t.Fatalf("Run = %+v, %v; want a refusal saying %q", res, err, want)
	}
	t.Log(err)
	if strings.Contains(err.Error(), "narwhal-registry-pw") {
		t.Fatalf("the error shows the password: %v", err)
	}
}
