package ghauth_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ghauth"
	"github.com/narwhal-ci/narwhal/internal/testenv/ghapi"
	"github.com/narwhal-ci/narwhal/internal/testenv/gitserver"
	"github.com/narwhal-ci/narwhal/internal/workspace"
)

func newApp(t *testing.T, stand *ghapi.App, installation int64) *ghauth.App {
	t.Helper()
	app, err := ghauth.NewApp(ghauth.AppConfig{AppID: ghapi.AppID, PrivateKey: stand.KeyPEM(),
		InstallationID: installation, BaseURL: stand.URL})
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// TestAppMintsScopedTokens: the installation is found per repository, the
// token is for that repository only, and it is cached while it lives.
func TestAppMintsScopedTokens(t *testing.T) {
	t.Parallel()
	stand := ghapi.New(t, time.Hour, "acme/one", "acme/two")
	app := newApp(t, stand, 0)
	one, err := app.Token(t.Context(), "acme/one")
	if err != nil {
		t.Fatal(err)
	}
	again, err := app.Token(t.Context(), "ACME/one")
	if err != nil || again != one {
		t.Errorf("second Token = %q, %v; want the cached %q", again, err, one)
	}
	two, err := app.Token(t.Context(), "acme/two")
	if err != nil || two == one {
		t.Fatalf("Token(acme/two) = %q, %v; want a token of its own", two, err)
	}
	if !stand.Valid(one, "acme/one") || stand.Valid(one, "acme/two") {
		t.Error("the token of acme/one is not scoped to acme/one")
	}
	if n := len(stand.Minted()); n != 2 {
		t.Errorf("minted %d tokens, want 2", n)
	}
}

// TestAppRefreshesExpiringTokens: a token within a minute of its expiry is
// replaced by a new one.
func TestAppRefreshesExpiringTokens(t *testing.T) {
	t.Parallel()
	stand := ghapi.New(t, time.Minute+300*time.Millisecond, "acme/one")
	app := newApp(t, stand, 1)
	first, err := app.Token(t.Context(), "acme/one")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	second, err := app.Token(t.Context(), "acme/one")
	if err != nil || second == first || !stand.Valid(second, "acme/one") {
		t.Errorf("after the refresh point Token = %q, %v; want a new valid token (first %q)", second, err, first)
	}
}

func TestAppErrors(t *testing.T) {
	t.Parallel()
	stand := ghapi.New(t, time.Hour, "acme/one")
	if _, err := newApp(t, stand, 0).Token(t.Context(), "acme/other"); err == nil || !strings.Contains(err.Error(), "not installed on acme/other") {
		t.Errorf("repository without the App: err = %v", err)
	}
	other := ghapi.New(t, time.Hour, "acme/one") // another key
	wrongKey, err := ghauth.NewApp(ghauth.AppConfig{AppID: ghapi.AppID, PrivateKey: other.KeyPEM(), BaseURL: stand.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrongKey.Token(t.Context(), "acme/one"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("a key GitHub does not know: err = %v", err)
	}
	if _, err := ghauth.NewApp(ghauth.AppConfig{AppID: 1, PrivateKey: []byte("not a key")}); err == nil {
		t.Error("NewApp accepted a bad key")
	}
	if _, err := newApp(t, stand, 0).Token(t.Context(), "no-slash"); err == nil {
		t.Error("a repository without owner was accepted")
	}
}

// TestAppClientUsesTheToken: commit statuses go out with the repository's
// installation token.
func TestAppClientUsesTheToken(t *testing.T) {
	t.Parallel()
	stand := ghapi.New(t, time.Hour, "acme/one")
	app := newApp(t, stand, 0)
	c, err := app.Client(t.Context(), "acme/one")
	if err != nil {
		t.Fatal(err)
	}
	st := "success"
	if _, _, err := c.Repositories.CreateStatus(t.Context(), "acme", "one", strings.Repeat("a", 40), newStatus(st)); err != nil {
		t.Fatal(err)
	}
	got := stand.Statuses()
	if len(got) != 1 || got[0].State != st || got[0].Token != stand.Minted()[0] {
		t.Errorf("statuses = %+v, want one %s with the minted token", got, st)
	}
}

func TestCloneToken(t *testing.T) {
	t.Parallel()
	stand := ghapi.New(t, time.Hour, "acme/one")
	app := newApp(t, stand, 0)
	host := strings.TrimPrefix(strings.TrimSuffix(stand.URL, "/"), "http://")
	for url, want := range map[string]bool{
		"https://" + host + "/acme/one.git":     true,
		"https://127.0.0.1:1/acme/one.git":      true, // same host, another port
		"http://" + host + "/acme/one.git":      false,
		"https://evil.example.com/acme/one.git": false,
		"https://x:y@127.0.0.1/acme/one.git":    false,
		"file:///srv/acme/one":                  false,
	} {
		tok, err := app.CloneToken(t.Context(), "acme/one", url)
		if err != nil || (tok != "") != want {
			t.Errorf("CloneToken(%s) = %q, %v; want a token: %v", url, tok, err, want)
		}
	}
}

func TestCloneHost(t *testing.T) {
	t.Parallel()
	for base, want := range map[string]string{
		"": "github.com", "https://api.github.com/": "github.com",
		"https://ghe.example.com/api/v3/": "ghe.example.com", "http://127.0.0.1:8080/": "127.0.0.1",
	} {
		if got := ghauth.CloneHost(base); got != want {
			t.Errorf("CloneHost(%q) = %q, want %q", base, got, want)
		}
	}
}

func TestStatic(t *testing.T) {
	t.Parallel()
	s, err := ghauth.NewStatic("ghp_x", "")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.CloneToken(t.Context(), "acme/one", "https://github.com/acme/one.git")
	if err != nil || tok != "ghp_x" {
		t.Errorf("CloneToken = %q, %v", tok, err)
	}
	if tok, _ := s.CloneToken(t.Context(), "acme/one", "https://gitlab.com/acme/one.git"); tok != "" {
		t.Error("the token went to another host")
	}
	if _, err := ghauth.NewStatic("", ""); err == nil {
		t.Error("NewStatic accepted an empty token")
	}
}

// TestExpiredTokenIsRefused: the git server takes only tokens that are valid
// now; once a token has expired its clone is refused ("token rejected"), and
// the App's next token clones again.
func TestExpiredTokenIsRefused(t *testing.T) {
	t.Parallel()
	stand := ghapi.New(t, 300*time.Millisecond, "acme/one")
	git := gitserver.New(t, stand.Valid)
	url, sha := git.AddRepo(t, "acme/one", map[string]string{"f": "x"})
	app := newApp(t, stand, 0)
	old, err := app.Token(t.Context(), "acme/one")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	err = workspace.Clone(t.Context(), workspace.CloneOptions{URL: url, SHA: sha, Dir: t.TempDir(), Token: old, CAFile: git.CAFile()})
	var auth *workspace.AuthError
	if !errors.As(err, &auth) || !auth.TokenSent {
		t.Fatalf("clone with an expired token: %v, want token rejected", err)
	}
	stand.SetLifetime(time.Hour) // the next token outlives the clone, however slow
	fresh, err := app.Token(t.Context(), "acme/one")
	if err != nil || fresh == old {
		t.Fatalf("Token after expiry = %q, %v; want a new one", fresh, err)
	}
	if err := workspace.Clone(t.Context(), workspace.CloneOptions{URL: url, SHA: sha, Dir: t.TempDir(), Token: fresh, CAFile: git.CAFile()}); err != nil {
		t.Fatalf("clone with the new token: %v", err)
	}
}

// TestAppConcurrentRepositories: tokens of several repositories minted at
// once (run with -race).
func TestAppConcurrentRepositories(t *testing.T) {
	t.Parallel()
	repos := []string{"acme/a", "acme/b", "acme/c", "acme/d"}
	stand := ghapi.New(t, time.Hour, repos...)
	app := newApp(t, stand, 0)
	var wg sync.WaitGroup
	for _, repo := range append(repos, repos...) {
		wg.Go(func() {
			if tok, err := app.Token(t.Context(), repo); err != nil || !stand.Valid(tok, repo) {
				t.Errorf("Token(%s) = %q, %v", repo, tok, err)
			}
		})
	}
	wg.Wait()
}
