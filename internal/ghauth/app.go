package ghauth

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/golang-jwt/jwt/v4"
	gh "github.com/google/go-github/v57/github"
	ghi "github.com/google/go-github/v88/github" // the token options type of ghinstallation

	"github.com/narwhal-ci/narwhal/internal/github"
)

// AppConfig says which GitHub App to authenticate as.
type AppConfig struct {
	// AppID is the App's ID (its settings page, "App ID").
	AppID int64
	// PrivateKey is one of the App's private keys, PEM.
	PrivateKey []byte
	// InstallationID, when set, is the one installation every repository
	// belongs to; 0 finds each repository's installation
	// (GET /repos/{owner}/{repo}/installation).
	InstallationID int64
	// BaseURL is the API root: "" for github.com (see github.NewClient).
	BaseURL string
	// Transport carries the requests; nil means http.DefaultTransport.
	Transport http.RoundTripper
}

// TokenPermissions are what an installation token of App may do: read the
// code (clone, narwhal.yml), write commit statuses, read metadata. The App
// must have been granted at least these.
var TokenPermissions = &ghi.InstallationPermissions{
	Contents: ghi.Ptr("read"), Statuses: ghi.Ptr("write"), Metadata: ghi.Ptr("read"),
}

// App is a Source that authenticates as a GitHub App: its private key signs
// a JWT (ghinstallation), the JWT buys an installation access token scoped to
// the one repository and TokenPermissions
// (POST /app/installations/{id}/access_tokens), and that token is cached per
// repository until a minute before it expires, then minted again. A
// repository whose token cannot be minted is looked up afresh next time (the
// App may have been reinstalled). The cache holds every repository asked
// for, as many as the App's installations cover.
type App struct {
	cfg  AppConfig
	host string
	key  *rsa.PrivateKey
	api  *gh.Client // authenticated as the App itself (JWT)

	mu    sync.Mutex
	repos map[string]*repoAuth
}

var _ Source = (*App)(nil)

// repoAuth is one repository's token transport and the client using it.
type repoAuth struct {
	tr     *ghinstallation.Transport
	client *gh.Client
}

// NewApp returns an App Source; it checks the key but does not touch the
// network.
func NewApp(cfg AppConfig) (*App, error) {
	if cfg.AppID <= 0 {
		return nil, errors.New("GitHub App: an App ID is required")
	}
	if cfg.Transport == nil {
		cfg.Transport = http.DefaultTransport
	}
	key, err := jwt.ParseRSAPrivateKeyFromPEM(cfg.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("GitHub App %d: private key: %w", cfg.AppID, err)
	}
	a := &App{cfg: cfg, host: CloneHost(cfg.BaseURL), key: key, repos: map[string]*repoAuth{}}
	a.api, err = github.NewClientWith(&http.Client{Transport: a.appsTransport(), Timeout: github.DefaultHTTPTimeout}, cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("GitHub App %d: %w", cfg.AppID, err)
	}
	return a, nil
}

// appsTransport is a new transport that authenticates as the App (a JWT per
// request). Each installation token transport needs its own: it changes
// its AppsTransport's fields when it renews its token.
func (a *App) appsTransport() *ghinstallation.AppsTransport {
	apps := ghinstallation.NewAppsTransportFromPrivateKey(a.cfg.Transport, a.cfg.AppID, a.key)
	apps.BaseURL = apiRoot(a.cfg.BaseURL)
	return apps
}

// apiRoot is ghinstallation's form of the API root: no trailing slash.
func apiRoot(baseURL string) string {
	if baseURL == "" {
		return "https://api.github.com"
	}
	return strings.TrimRight(baseURL, "/")
}

// Token returns an installation token for repo, minted or cached.
func (a *App) Token(ctx context.Context, repo string) (string, error) {
	ra, err := a.repo(ctx, repo)
	if err != nil {
		return "", err
	}
	tok, err := ra.tr.Token(ctx)
	if err != nil {
		a.forget(repo)
		return "", fmt.Errorf("GitHub App token for %s: %w", repo, err)
	}
	return tok, nil
}

// Client returns a client for repo that authenticates with its token.
func (a *App) Client(ctx context.Context, repo string) (*gh.Client, error) {
	ra, err := a.repo(ctx, repo)
	if err != nil {
		return nil, err
	}
	return ra.client, nil
}

// CloneToken returns repo's token for an https clone URL on the GitHub host.
func (a *App) CloneToken(ctx context.Context, repo, cloneURL string) (string, error) {
	return cloneToken(ctx, a, a.host, repo, cloneURL)
}

// repo returns repo's cached repoAuth, or finds its installation and makes
// one.
func (a *App) repo(ctx context.Context, repo string) (*repoAuth, error) {
	key := strings.ToLower(repo)
	a.mu.Lock()
	ra := a.repos[key]
	a.mu.Unlock()
	if ra != nil {
		return ra, nil
	}
	ra, err := a.newRepoAuth(ctx, repo)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if cur := a.repos[key]; cur != nil {
		return cur, nil // another call made one meanwhile
	}
	a.repos[key] = ra
	return ra, nil
}

// newRepoAuth makes the token transport of repo's installation, scoped to
// repo and TokenPermissions.
func (a *App) newRepoAuth(ctx context.Context, repo string) (*repoAuth, error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("GitHub App: bad repository %q (want owner/name)", repo)
	}
	id, err := a.installation(ctx, owner, name)
	if err != nil {
		return nil, err
	}
	tr := ghinstallation.NewFromAppsTransport(a.appsTransport(), id)
	tr.InstallationTokenOptions = &ghi.InstallationTokenOptions{Repositories: []string{name}, Permissions: TokenPermissions}
	client, err := github.NewClientWith(&http.Client{Transport: tr, Timeout: github.DefaultHTTPTimeout}, a.cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	return &repoAuth{tr: tr, client: client}, nil
}

// installation is the configured installation ID, or the one of owner/name.
func (a *App) installation(ctx context.Context, owner, name string) (int64, error) {
	if a.cfg.InstallationID > 0 {
		return a.cfg.InstallationID, nil
	}
	inst, resp, err := a.api.Apps.FindRepositoryInstallation(ctx, owner, name)
	if resp != nil && resp.StatusCode == http.StatusNotFound {
		return 0, fmt.Errorf("GitHub App %d is not installed on %s/%s", a.cfg.AppID, owner, name)
	}
	if err != nil {
		return 0, fmt.Errorf("GitHub App %d: find the installation of %s/%s: %w", a.cfg.AppID, owner, name, err)
	}
	return inst.GetID(), nil
}

// forget drops repo's cached installation and token.
func (a *App) forget(repo string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.repos, strings.ToLower(repo))
}
