package apiclient

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/narwhal-ci/narwhal/internal/api"
	"github.com/narwhal-ci/narwhal/internal/secrets"
)

// repoPath is the path segments of repo ("owner/name") under /repos.
func repoPath(repo string, more ...string) ([]string, error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("repository %q: want OWNER/NAME", repo)
	}
	return append([]string{"repos", owner, name}, more...), nil
}

// SetSecret creates or replaces a repository secret
// (PUT /repos/{owner}/{name}/secrets/{secret}).
func (c *Client) SetSecret(ctx context.Context, repo, name, value string, allowPullRequests bool) (secrets.Secret, error) {
	var out secrets.Secret
	path, err := repoPath(repo, "secrets", name)
	if err != nil {
		return out, err
	}
	in := api.SecretBody{Value: &value, AllowPullRequests: allowPullRequests}
	return out, c.send(ctx, http.MethodPut, nil, Timeout, in, &out, path...)
}

// Secrets lists a repository's secrets, without values
// (GET /repos/{owner}/{name}/secrets).
func (c *Client) Secrets(ctx context.Context, repo string) ([]secrets.Secret, error) {
	var out api.SecretList
	path, err := repoPath(repo, "secrets")
	if err != nil {
		return nil, err
	}
	return out.Secrets, c.call(ctx, http.MethodGet, nil, Timeout, &out, path...)
}

// DeleteSecret removes a repository secret
// (DELETE /repos/{owner}/{name}/secrets/{secret}).
func (c *Client) DeleteSecret(ctx context.Context, repo, name string) error {
	return c.delete(ctx, repo, "secrets", name)
}

// SetRegistry creates or replaces a repository's credentials for a registry
// host (PUT /repos/{owner}/{name}/registries/{host}).
func (c *Client) SetRegistry(ctx context.Context, repo, host, username, password string) (secrets.Registry, error) {
	var out secrets.Registry
	path, err := repoPath(repo, "registries", host)
	if err != nil {
		return out, err
	}
	in := api.RegistryBody{Username: username, Password: password}
	return out, c.send(ctx, http.MethodPut, nil, Timeout, in, &out, path...)
}

// Registries lists a repository's registries, without passwords
// (GET /repos/{owner}/{name}/registries).
func (c *Client) Registries(ctx context.Context, repo string) ([]secrets.Registry, error) {
	var out api.RegistryList
	path, err := repoPath(repo, "registries")
	if err != nil {
		return nil, err
	}
	return out.Registries, c.call(ctx, http.MethodGet, nil, Timeout, &out, path...)
}

// DeleteRegistry removes a repository's credentials for host
// (DELETE /repos/{owner}/{name}/registries/{host}).
func (c *Client) DeleteRegistry(ctx context.Context, repo, host string) error {
	return c.delete(ctx, repo, "registries", host)
}

func (c *Client) delete(ctx context.Context, repo, kind, key string) error {
	path, err := repoPath(repo, kind, key)
	if err != nil {
		return err
	}
	var out api.Deleted
	return c.call(ctx, http.MethodDelete, nil, Timeout, &out, path...)
}
