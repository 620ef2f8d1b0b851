package testenv

import (
	"os/exec"
	"testing"
)

// GitRepo makes a git repository in a temporary directory with one commit of
// files (name → content) on branch main, and returns its directory and the
// commit's SHA. Author and committer are fixed, and the user's git
// configuration is ignored, so the result does not depend on the machine.
func GitRepo(t testing.TB, files map[string]string) (dir, sha string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		Missing(t, "git")
	}
	dir = Files(t, files)
	gitIn(t, dir, "init", "-q", "-b", "main")
	gitIn(t, dir, "add", ".")
	gitIn(t, dir, "commit", "-q", "-m", "test")
	return dir, gitIn(t, dir, "rev-parse", "HEAD")
}
