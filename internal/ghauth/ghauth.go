// Package ghauth gives the dispatcher its GitHub credentials, per
// repository: a personal access token (Static) or a GitHub App's installation
// tokens (App), minted for one repository and cached until shortly before
// they expire. The same token serves a job's clone, its commit statuses and
// reading its narwhal.yml. docs/secrets.md says how to set up an App.
package ghauth

import (
	"context"
	"net/url"
	"strings"

	gh "github.com/google/go-github/v57/github"
)

// Source gives the GitHub credentials of a repository ("owner/name").
//
// Contract: Token returns a token valid for at least a minute, minted or
// taken from a cache; Client returns an API client that authenticates with
// the repository's token (and renews it as it expires); CloneToken is Token
// for a job's clone URL, "" and no error when the URL is not an https URL
// of the GitHub host the source belongs to, so that a token never goes
// anywhere else. ctx bounds the network calls. Errors say which repository
// and why (the App is not installed there, GitHub refused the key). All
// methods are safe for concurrent use.
type Source interface {
	Token(ctx context.Context, repo string) (string, error)
	Client(ctx context.Context, repo string) (*gh.Client, error)
	CloneToken(ctx context.Context, repo, cloneURL string) (string, error)
}

// CloneHost is the host that serves git for the GitHub API at baseURL:
// github.com for "" and api.github.com, the API host without a leading
// "api." otherwise (GitHub Enterprise Server: ghe.example.com for
// https://ghe.example.com/api/v3/). The port is ignored.
func CloneHost(baseURL string) string {
	if baseURL == "" {
		return "github.com"
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	if host == "api.github.com" {
		return "github.com"
	}
	return strings.TrimPrefix(host, "api.")
}

// forHost reports whether cloneURL is an https URL on host (any port).
func forHost(cloneURL, host string) bool {
	u, err := url.Parse(cloneURL)
	return err == nil && host != "" && strings.EqualFold(u.Scheme, "https") &&
		strings.EqualFold(u.Hostname(), host) && u.User == nil
}

// cloneToken is CloneToken for any source: Token when cloneURL is on host.
func cloneToken(ctx context.Context, s Source, host, repo, cloneURL string) (string, error) {
	if !forHost(cloneURL, host) {
		return "", nil
	}
	return s.Token(ctx, repo)
}
