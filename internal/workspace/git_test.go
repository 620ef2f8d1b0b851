package workspace

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// gitRun runs git in dir with a fixed identity and returns its trimmed output.
func gitRun(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=narwhal", "GIT_AUTHOR_EMAIL=n@example.com",
		"GIT_COMMITTER_NAME=narwhal", "GIT_COMMITTER_EMAIL=n@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %v: %w\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// gitIn is gitRun failing the test on error.
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := gitRun(dir, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// testRepo is a source repository: first and second are commits on the
// default branch; pull is a commit reachable only from refs/pull/1/head, and
// not its tip, so a protocol v0 server does not advertise it.
type testRepo struct {
	dir                 string
	first, second, pull string
}

// buildRepo creates the repository in dir, with file f holding "1", "2",
// "pull" and "pull tip" in its commits.
func buildRepo(dir string) (testRepo, error) {
	r := testRepo{dir: dir}
	var err error
	step := func(args ...string) string {
		if err != nil {
			return ""
		}
		var out string
		out, err = gitRun(dir, args...)
		return out
	}
	commit := func(content string) string {
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "f"), []byte(content), 0o644)
		}
		step("add", "f")
		step("commit", "--quiet", "-m", content)
		return step("rev-parse", "HEAD")
	}
	step("init", "--quiet")
	r.first, r.second = commit("1"), commit("2")
	step("checkout", "--quiet", "--detach")
	r.pull = commit("pull")
	step("update-ref", "refs/pull/1/head", commit("pull tip"))
	step("checkout", "--quiet", "-")
	return r, err
}

// newTestRepo returns a copy of the shared repository that the test may
// change.
func newTestRepo(t *testing.T) testRepo {
	t.Helper()
	r := sharedRepo(t)
	r.dir = filepath.Join(t.TempDir(), "src")
	if err := Copy(context.Background(), shared.repo.dir, r.dir); err != nil {
		t.Fatal(err)
	}
	return r
}

// shared is the repository the tests that only read it share; TestMain
// removes it.
var shared struct {
	once sync.Once
	repo testRepo
	err  error
}

// sharedRepo returns the shared read-only test repository.
func sharedRepo(t *testing.T) testRepo {
	t.Helper()
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "narwhal-workspace-test-")
		if err != nil {
			shared.err = err
			return
		}
		shared.repo, shared.err = buildRepo(dir)
		shared.repo.dir = dir
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.repo
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.repo.dir != "" {
		_ = os.RemoveAll(shared.repo.dir)
	}
	os.Exit(code)
}

// writeFile writes content to path with mode, failing the test on error.
func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// readFile returns the content of path, failing the test on error.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
