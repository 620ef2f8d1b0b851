package devstack

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/narwhal-ci/narwhal/internal/github"
	"github.com/narwhal-ci/narwhal/internal/pipeline"
)

// DemoRepo makes the git repository of `narwhal dev --demo`: the files of
// src (examples/hello) committed on branch main of a fresh repository in
// Dir/demo-repo, so the narwhal.yml is at its root as a runner expects.
// With withoutServices the pipeline's services and the commands that reach
// them are left out, for the host executor, which cannot run services.
// It returns the commit to send a webhook for.
func DemoRepo(ctx context.Context, dir, src string, withoutServices bool) (github.Commit, error) {
	repo, err := filepath.Abs(filepath.Join(dir, demoRepoDir))
	if err != nil {
		return github.Commit{}, fmt.Errorf("demo repository: %w", err)
	}
	if err := os.RemoveAll(repo); err != nil {
		return github.Commit{}, fmt.Errorf("demo repository: %w", err)
	}
	if err := os.CopyFS(repo, os.DirFS(src)); err != nil {
		return github.Commit{}, fmt.Errorf("demo repository: copy %s: %w", src, err)
	}
	if withoutServices {
		if err := trimServicesFile(filepath.Join(repo, pipelineFile)); err != nil {
			return github.Commit{}, err
		}
	}
	return commitAll(ctx, repo, "narwhal dev --demo: "+filepath.Base(src))
}

// pipelineFile is the name of a repository's pipeline.
const pipelineFile = "narwhal.yml"

// commitAll makes repo a git repository with everything in it committed on
// main, and describes the commit.
func commitAll(ctx context.Context, repo, message string) (github.Commit, error) {
	steps := [][]string{
		{"-c", "init.defaultBranch=main", "init", "-q"},
		{"add", "-A"},
		{"-c", "user.name=narwhal dev", "-c", "user.email=dev@narwhal.invalid", "commit", "-q", "--no-gpg-sign", "-m", message},
	}
	for _, args := range steps {
		if _, err := git(ctx, repo, args...); err != nil {
			return github.Commit{}, fmt.Errorf("demo repository: %w", err)
		}
	}
	sha, err := git(ctx, repo, "rev-parse", "HEAD")
	if err != nil {
		return github.Commit{}, fmt.Errorf("demo repository: %w", err)
	}
	return github.Commit{Repo: "local/" + filepath.Base(repo), CloneURL: "file://" + repo, SHA: sha,
		Branch: "main", Message: message, Author: "narwhal dev", Email: "dev@narwhal.invalid"}, nil
}

// git runs git in dir and returns its output without the final newline.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return strings.TrimRight(string(out), "\n"), nil
}

// trimServicesFile rewrites the pipeline at path without services.
func trimServicesFile(path string) error {
	data, err := pipeline.ReadFile(path, pipelineFile)
	if err != nil {
		return fmt.Errorf("demo pipeline: %w", err)
	}
	out, err := TrimServices(data)
	if err != nil {
		return fmt.Errorf("demo pipeline %s: %w", path, err)
	}
	return os.WriteFile(path, out, 0o644)
}

// TrimServices returns the narwhal.yml in data without its services and
// without the step commands that name a service as a host ("web:8080",
// "http://web/"), which could not reach it; the result still parses. It is
// how the demo runs examples/hello on the host executor.
func TrimServices(data []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("not a mapping")
	}
	root := doc.Content[0]
	names := serviceNames(mappingValue(root, "services"))
	deleteKey(root, "services")
	if steps := mappingValue(root, "steps"); steps != nil {
		for _, step := range steps.Content {
			dropCommandsNaming(mappingValue(step, "commands"), names)
		}
	}
	doc.HeadComment = "# Trimmed by narwhal dev for the host executor: services removed.\n" + doc.HeadComment
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, err
	}
	if _, err := pipeline.Parse(pipelineFile, out); err != nil {
		return nil, fmt.Errorf("trimmed pipeline does not parse: %w", err)
	}
	return out, nil
}

// mappingValue returns the value of key in mapping node m, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func deleteKey(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

// serviceNames lists the names of a services sequence.
func serviceNames(services *yaml.Node) []string {
	var names []string
	if services == nil {
		return nil
	}
	for _, svc := range services.Content {
		if n := mappingValue(svc, "name"); n != nil && n.Value != "" {
			names = append(names, n.Value)
		}
	}
	return names
}

// dropCommandsNaming removes the commands that reach one of the services.
func dropCommandsNaming(commands *yaml.Node, services []string) {
	if commands == nil || commands.Kind != yaml.SequenceNode {
		return
	}
	kept := commands.Content[:0]
	for _, c := range commands.Content {
		if !namesService(c.Value, services) {
			kept = append(kept, c)
		}
	}
	commands.Content = kept
}

func namesService(command string, services []string) bool {
	for _, s := range services {
		if strings.Contains(command, "//"+s+":") || strings.Contains(command, "//"+s+"/") || strings.Contains(command, " "+s+":") {
			return true
		}
	}
	return false
}
