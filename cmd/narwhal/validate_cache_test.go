package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateCachePathEscapes: narwhal validate refuses cache and artifact
// paths that leave the workspace, and a cache key whose checksum file does,
// each at its file:line:column, and accepts the same pipeline written
// within the workspace.
func TestValidateCachePathEscapes(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "narwhal.yml"), `image: golang
cache:
  key: go-{{ checksum "../go.sum" }}
  paths: [.cache/go-build, ../../home/runner/.ssh]
steps:
  - name: build
    commands: [make]
    artifacts:
      paths: [dist/*.tar.gz, /etc/shadow]
      expire_in: 100d
  - name: test
    commands: [make test]
    cache:
      key: test
      paths: build/../../outside
`)
	stdout, stderr, code := run(t, dir, "validate")
	want := strings.Join([]string{
		`narwhal.yml:3:11: cache.key: checksum "../go.sum": path escapes the workspace`,
		`narwhal.yml:4:28: cache.paths[1]: path "../../home/runner/.ssh" escapes the workspace: it goes through ".."`,
		`narwhal.yml:9:30: artifacts.paths[1]: path "/etc/shadow" escapes the workspace: it is absolute; write it relative to the workspace`,
		`narwhal.yml:10:18: expire_in: "100d" is longer than 90d, the longest artifacts are kept`,
		`narwhal.yml:15:14: cache.paths: path "build/../../outside" escapes the workspace: it goes through ".."`,
	}, "\n") + "\n"
	if code != 1 || stderr != want || stdout != "" {
		t.Errorf("exit %d, stdout %q, stderr\n%s\nwant\n%s", code, stdout, stderr, want)
	}

	writeFile(t, filepath.Join(dir, "good.yml"), `image: golang
cache:
  key: go-{{ checksum "go.sum" }}
  paths: [.cache/go-build]
steps:
  - name: build
    commands: [make]
    cache: false
    artifacts:
      paths: [dist/*.tar.gz]
      expire_in: 90d
`)
	stdout, stderr, code = run(t, dir, "validate", "good.yml")
	if code != 0 || stdout != "good.yml: ok (1 steps, 0 services)\n" {
		t.Errorf("good file: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestValidateWarnsOfEscapingLinks: a cache path that is a symbolic link out
// of the checkout passes validation (the link may differ on the runner) but
// gets a warning, since the runner would refuse it.
func TestValidateWarnsOfEscapingLinks(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "narwhal.yml"), `image: golang
cache:
  key: go
  paths: [.cache/go-build]
steps:
  - name: build
    commands: [make]
`)
	if err := os.Symlink("/etc", filepath.Join(dir, ".cache")); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := run(t, dir, "validate")
	if code != 0 || !strings.Contains(stdout, "narwhal.yml: ok") {
		t.Errorf("exit %d, stdout %q; want ok", code, stdout)
	}
	if !strings.Contains(stderr, "narwhal.yml: warning:") || !strings.Contains(stderr, ".cache") {
		t.Errorf("stderr %q, want a warning about .cache", stderr)
	}
}
