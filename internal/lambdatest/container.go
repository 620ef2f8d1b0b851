package lambdatest

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// ContainerLabel marks the containers StartContainer runs, so that what a
// crashed test left can be swept: docker rm -f $(docker ps -aq -f label=narwhal-test=lambdatest).
const ContainerLabel = "narwhal-test=lambdatest"

// BaseImage returns the tag of the image `sam local invoke` runs a
// provided.al2023 function in on this machine's architecture,
// public.ecr.aws/lambda/provided:al2023-<arch>, seeding it from a static
// busybox when it is not there (scripts/lambda-base-image.sh; no registry
// is needed). Without Docker the test is skipped, or failed in CI.
func BaseImage(t testing.TB) string {
	t.Helper()
	if exec.Command("docker", "info").Run() != nil {
		testenv.Missing(t, "Docker")
	}
	unlock := lock(t, filepath.Join(os.TempDir(), "narwhal-lambda-base-image.lock"))
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(RepoRoot(t), "scripts", "lambda-base-image.sh"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("lambdatest: seed the Lambda base image: %v\n%s", err, stderrOf(err))
	}
	return strings.TrimSpace(string(out))
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// StartContainer runs dir/bootstrap the way `sam local invoke` (and Lambda)
// does: in a container of image (see BaseImage) with the function mounted
// read-only at /var/task, the emulator rie mounted at
// /var/rapid/aws-lambda-rie as the entrypoint, a read-only root filesystem
// apart from a tmpfs /tmp, as Lambda's user (993:990), and exactly
// opts.Env plus what Lambda and sam set (function name, timeout, the
// credentials and region of the test process; see containerEnv). The
// container shares the host's network, so 127.0.0.1 is the host's and the
// test's services are reached as the test reaches them. It is removed when
// the test ends.
func StartContainer(t testing.TB, image, rie, dir string, opts Options) *Function {
	t.Helper()
	return startWith(t, dir, func() (*Function, error) { return startContainer(image, rie, dir, opts) })
}

func startContainer(image, rie, dir string, opts Options) (*Function, error) {
	api, invoke := freeAddr(), freeAddr()
	name := "narwhal-lambdatest-" + strings.ToLower(rand.Text()[:10])
	f := &Function{url: "http://" + invoke + "/2015-03-31/functions/function/invocations",
		done: make(chan struct{}), out: &testenv.Buffer{}}
	args := []string{"run", "--rm", "--name", name, "--label", ContainerLabel, "--network", "host",
		"--read-only", "--tmpfs", "/tmp", "--user", "993:990",
		"-v", dir + ":/var/task:ro", "-v", rie + ":/var/rapid/aws-lambda-rie:ro",
		"--entrypoint", "/var/rapid/aws-lambda-rie", "-w", "/var/task"}
	for _, kv := range containerEnv(opts) {
		args = append(args, "-e", kv)
	}
	args = append(args, image, "--runtime-interface-emulator-address", invoke, "--runtime-api-address", api)
	f.cmd = exec.Command("docker", args...)
	f.cmd.Stdout, f.cmd.Stderr = f.out, f.out
	f.kill = func() {
		exec.Command("docker", "rm", "-f", name).Run()
		f.cmd.Process.Kill()
	}
	if err := f.run(invoke); err != nil {
		return nil, fmt.Errorf("container %s: %w", name, err)
	}
	return f, nil
}

// samPasses are the variables of the caller's environment that `sam local`
// gives a function container besides the template's: credentials and region.
var samPasses = []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION"}

// containerEnv is the container's environment, sorted: what Lambda sets,
// the credentials and region of the test process as sam passes them, and
// opts.Env. Nothing else of the test process leaks in (an AWS_CA_BUNDLE of
// this machine, AWS_ENDPOINT_URL: the template declares that one).
func containerEnv(opts Options) []string {
	env := map[string]string{}
	for _, kv := range environment(Options{Name: opts.Name, Timeout: opts.Timeout}) {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_LAMBDA_") {
			env[k] = v
		}
	}
	for _, k := range samPasses {
		if v := os.Getenv(k); v != "" {
			env[k] = v
		}
	}
	if env["AWS_DEFAULT_REGION"] == "" {
		env["AWS_DEFAULT_REGION"] = env["AWS_REGION"]
	}
	for k, v := range opts.Env {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
