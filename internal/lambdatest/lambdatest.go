// Package lambdatest runs Lambda functions in tests the way Lambda (and
// `sam local invoke`) runs them: built as a `bootstrap` binary for the
// provided.al2023 runtime and started under the AWS Lambda Runtime Interface
// Emulator, which speaks the Runtime API to the binary and the Invoke API to
// the test.
//
//	rie := lambdatest.RIE(t)                        // bin/aws-lambda-rie, installed once
//	dir := lambdatest.Build(t, "./functions/agent") // <tmp>/bootstrap
//	fn := lambdatest.Start(t, rie, dir, lambdatest.Options{Name: "AgentFunction", Env: env})
//	out, err := fn.Call(ctx, payload)               // *mqbridge.FunctionError, *mqbridge.TimeoutError, ...
//
// StartContainer runs the same bootstrap as `sam local invoke` lays it out:
// in a container of the provided.al2023 base image (BaseImage seeds it from
// a static busybox where no registry is reachable), /var/task read-only, the
// emulator as entrypoint, a read-only root filesystem apart from /tmp. That
// catches what a host process cannot: a file the image lacks, a write
// outside /tmp, a variable the template does not declare.
//
// Each Function is one emulator process on its own free ports; its
// invocations are serialised (concurrent ones crash the emulator), and its
// output (the emulator's START/END/REPORT lines and the function's logs) is
// kept for the test to read and is printed when the test fails.
package lambdatest

import (
	"context"
	"debug/buildinfo"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/flock"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// The emulator, pinned: the module proxy serves this pseudo-version.
const (
	RIEPackage = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
	RIEVersion = "v0.0.0-20261030222936-bef5c4ba774d"
)

// RepoRoot returns the root of the repository (the directory of go.mod)
// above the working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("lambdatest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// RIE returns the path of the emulator, <repo>/bin/aws-lambda-rie, after
// installing it from the module proxy at RIEVersion unless that version is
// there already (`make rie` does the same). Test processes of several
// packages share it under a file lock. Without the proxy, the test is
// skipped, or failed in CI.
func RIE(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(RepoRoot(t), "bin")
	path := filepath.Join(bin, "aws-lambda-rie")
	unlock := lock(t, filepath.Join(os.TempDir(), "narwhal-aws-lambda-rie.lock"))
	defer unlock()
	if installed(path) {
		return path
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", RIEPackage+"@"+RIEVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		msg := "lambdatest: install the runtime interface emulator: " + err.Error() + "\n" + string(out)
		if testenv.InCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// installed reports whether path is the emulator at RIEVersion.
func installed(path string) bool {
	info, err := buildinfo.ReadFile(path)
	return err == nil && info.Main.Version == RIEVersion
}

// lock takes an exclusive lock on path and returns its release.
func lock(t testing.TB, path string) func() {
	t.Helper()
	unlock, err := flock.Lock(path, flock.Exclusive)
	if err != nil {
		t.Fatalf("lambdatest: %v", err)
	}
	return unlock
}

// Tags are the build tags of a Lambda function, as the Makefile's
// LAMBDA_TAGS: no RPC shim, and no gRPC request tracing (which links
// text/template and with it every exported method; docs/deploy.md).
const Tags = "lambda.norpc,grpcnotrace"

// Build compiles the function package pkg (a path relative to the
// repository root, "./functions/agent") as Lambda's provided runtimes want
// it: a static `bootstrap` (CGO_ENABLED=0, GOOS=linux, Tags, -trimpath),
// for this machine's architecture so that it runs here (the template ships
// arm64). It returns the directory holding bootstrap, which
// is removed when the test ends; the Go build cache makes a rebuild cheap.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", Tags, "-trimpath",
		"-o", filepath.Join(dir, "bootstrap"), pkg)
	cmd.Dir = RepoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("lambdatest: build %s: %v\n%s", pkg, err, out)
	}
	return dir
}

// errExited: the emulator process ended before it was stopped.
var errExited = errors.New("emulator exited")
