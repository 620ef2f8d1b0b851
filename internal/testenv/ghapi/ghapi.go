// Package ghapi is a stand-in for the GitHub API endpoints of a GitHub App,
// for tests: it holds an App (ID and RSA key), answers
// GET /repos/{owner}/{repo}/installation and
// POST /app/installations/{id}/access_tokens only to requests whose JWT the
// App's public key verifies, and mints installation tokens that expire after
// a set lifetime. Valid tells a git server (package gitserver) whether a token
// may read a repository, so that only currently valid minted tokens clone.
// It also records commit statuses (POST /repos/{owner}/{repo}/statuses/{sha})
// and answers the contents API with 404, both only to a valid token.
package ghapi

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// AppID is the stand-in App's ID.
const AppID = 4242

// App is the stand-in; its methods are safe for concurrent use.
type App struct {
	// URL is the API root to give the client (an httptest server).
	URL string
	key *rsa.PrivateKey

	mu       sync.Mutex
	lifetime time.Duration
	installs map[string]int64 // lower-case owner/name → installation ID
	tokens   map[string]grant
	minted   []string
	statuses []Status
}

// grant is what a minted token may do, until when.
type grant struct {
	repo    string
	expires time.Time
}

// Status is a commit status the stand-in received, with the token that set it.
type Status struct {
	Repo, SHA, State, Token string
}

// New starts a stand-in whose tokens live for lifetime, with installation
// ID 1 covering repos ("owner/name"). It stops when the test ends.
func New(t testing.TB, lifetime time.Duration, repos ...string) *App {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	a := &App{key: key, lifetime: lifetime, installs: map[string]int64{}, tokens: map[string]grant{}}
	for _, r := range repos {
		a.installs[strings.ToLower(r)] = 1
	}
	srv := httptest.NewServer(a.routes())
	t.Cleanup(srv.Close)
	a.URL = srv.URL + "/"
	return a
}

// KeyPEM is the App's private key, PEM (what a user downloads from GitHub).
func (a *App) KeyPEM() []byte {
	der := x509.MarshalPKCS1PrivateKey(a.key)
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der})
}

// SetLifetime changes the lifetime of the tokens minted from now on.
func (a *App) SetLifetime(d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lifetime = d
}

// Valid reports whether token is a minted token for repo that has not
// expired.
func (a *App) Valid(token, repo string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	g, ok := a.tokens[token]
	return ok && strings.EqualFold(g.repo, repo) && time.Now().Before(g.expires)
}

// Minted lists the tokens minted so far, oldest first.
func (a *App) Minted() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.minted...)
}

// Statuses lists the commit statuses received so far.
func (a *App) Statuses() []Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Status(nil), a.statuses...)
}

// mint makes a token for repo.
func (a *App) mint(repo string) (string, time.Time) {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tok := "ghs_" + hex.EncodeToString(b)
	a.mu.Lock()
	defer a.mu.Unlock()
	exp := time.Now().Add(a.lifetime)
	a.tokens[tok] = grant{repo: repo, expires: exp}
	a.minted = append(a.minted, tok)
	return tok, exp
}
