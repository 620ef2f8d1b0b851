package devstack

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/narwhal-ci/narwhal/internal/ghauth"
)

// GitHubConfig is how `narwhal dev` gets clone credentials for private
// repositories: a file holding a personal access token, or a GitHub App (its
// ID and the file of its private key). docs/secrets.md says how to make
// either. The files are read once, at start.
type GitHubConfig struct {
	TokenFile      string // --github-token-file
	AppID          int64  // --github-app-id, with AppKeyFile
	AppKeyFile     string // --github-app-key-file (the .pem GitHub gives)
	InstallationID int64  // --github-app-installation; 0 finds each repository's
	URL            string // --github-url: API root of GitHub Enterprise; "" for github.com
}

// source is the configured credentials, nil for none.
func (g GitHubConfig) source() (ghauth.Source, error) {
	switch {
	case g.TokenFile != "" && (g.AppID != 0 || g.AppKeyFile != ""):
		return nil, errors.New("GitHub: give a token file or a GitHub App, not both")
	case g.TokenFile != "":
		token, err := os.ReadFile(g.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("GitHub token: %w", err)
		}
		return ghauth.NewStatic(strings.TrimSpace(string(token)), g.URL)
	case (g.AppID != 0) != (g.AppKeyFile != ""):
		return nil, errors.New("GitHub App: give both its ID and its key file")
	case g.AppID != 0:
		key, err := os.ReadFile(g.AppKeyFile)
		if err != nil {
			return nil, fmt.Errorf("GitHub App key: %w", err)
		}
		return ghauth.NewApp(ghauth.AppConfig{AppID: g.AppID, PrivateKey: key, InstallationID: g.InstallationID, BaseURL: g.URL})
	}
	return nil, nil
}

// describe says where clone credentials come from, for the banner.
func (g GitHubConfig) describe() string {
	switch {
	case g.TokenFile != "":
		return "token from " + g.TokenFile
	case g.AppID != 0:
		return fmt.Sprintf("GitHub App %d (key %s)", g.AppID, g.AppKeyFile)
	}
	return "none: public and local repositories only"
}

// githubCredentials sets s.creds from the configuration (a nil interface when
// there is none).
func (s *Stack) githubCredentials() error {
	src, err := s.cfg.GitHub.source()
	if err != nil {
		return err
	}
	if src != nil {
		s.creds = src
	}
	return nil
}
