package ghauth

import (
	"context"
	"errors"
	"fmt"

	gh "github.com/google/go-github/v57/github"

	"github.com/narwhal-ci/narwhal/internal/github"
)

// Static is a Source with one token for every repository: a personal access
// token (fine-grained: contents read, commit statuses write, metadata read
// on the repositories narwhal builds).
type Static struct {
	token  string
	host   string
	client *gh.Client
}

var _ Source = (*Static)(nil)

// NewStatic returns a Source that gives token for every repository and
// talks to the GitHub API at baseURL ("" for github.com; see
// github.NewClient).
func NewStatic(token, baseURL string) (*Static, error) {
	if token == "" {
		return nil, errors.New("GitHub token: empty")
	}
	c, err := github.NewClient(token, baseURL)
	if err != nil {
		return nil, fmt.Errorf("GitHub token: %w", err)
	}
	return &Static{token: token, host: CloneHost(baseURL), client: c}, nil
}

// Token returns the token.
func (s *Static) Token(context.Context, string) (string, error) { return s.token, nil }

// Client returns the one client, authenticated with the token.
func (s *Static) Client(context.Context, string) (*gh.Client, error) { return s.client, nil }

// CloneToken returns the token for an https clone URL on the GitHub host.
func (s *Static) CloneToken(ctx context.Context, repo, cloneURL string) (string, error) {
	return cloneToken(ctx, s, s.host, repo, cloneURL)
}
