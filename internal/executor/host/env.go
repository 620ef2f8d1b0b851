package host

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// defaultPath is the PATH of steps when the runner has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// stepEnv builds a step's environment: a minimal base (PATH from the runner,
// HOME and TMPDIR inside the job's temporary home, LANG) overridden by the
// step's own variables. Nothing else of the runner's environment, which may
// hold its credentials, reaches the step.
func stepEnv(home string, env map[string]string) []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = defaultPath
	}
	vars := map[string]string{
		"PATH": path, "HOME": home, "TMPDIR": filepath.Join(home, "tmp"), "LANG": "C.UTF-8",
	}
	for k, v := range env {
		vars[k] = v
	}
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// stepDir returns the directory a step runs in, workspace joined with the
// step's working directory, creating it when missing (as Docker does). A
// working directory that leaves the workspace is an error.
func stepDir(workspace, workingDir string) (string, error) {
	if workspace == "" {
		return "", fmt.Errorf("job has no workspace")
	}
	if workingDir == "" {
		return workspace, nil
	}
	rel := filepath.Clean(filepath.FromSlash(workingDir))
	if !filepath.IsLocal(rel) {
		return "", fmt.Errorf("working directory %q is not inside the workspace", workingDir)
	}
	dir := filepath.Join(workspace, rel)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create working directory: %w", err)
	}
	return dir, nil
}
