// Package gitserver is an authenticated git server for tests: Debian's
// `git http-backend` (the CGI program git ships) behind a handler that
// demands HTTP basic auth x-access-token:<token>, the form GitHub takes
// installation tokens in, over TLS with a throw-away certificate. A test
// adds bare repositories and says which tokens may read them; the clone
// under test trusts the server through CAFile (GIT_SSL_CAINFO).
package gitserver

import (
	"encoding/pem"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// Backend is where Debian's git package puts git http-backend.
const Backend = "/usr/lib/git-core/git-http-backend"

// AcceptFunc reports whether token may read repo ("owner/name").
type AcceptFunc func(token, repo string) bool

// Token accepts exactly token, for every repository.
func Token(token string) AcceptFunc {
	return func(t, _ string) bool { return t != "" && t == token }
}

// Server serves the repositories under its root at /<owner>/<name>.git.
// Its methods are safe for concurrent use.
type Server struct {
	// URL is the server's https root, without a trailing slash.
	URL    string
	root   string
	ca     string
	accept AcceptFunc

	mu   sync.Mutex
	seen []string
}

// New starts a server that lets a request through when accept says its
// token may read the repository; it stops when the test ends. Without git
// http-backend the test is skipped, or fails in CI.
func New(t testing.TB, accept AcceptFunc) *Server {
	t.Helper()
	if _, err := os.Stat(Backend); err != nil {
		testenv.Missing(t, "git http-backend ("+Backend+", Debian's git)")
	}
	s := &Server{root: t.TempDir(), accept: accept}
	srv := httptest.NewTLSServer(s.handler())
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	s.ca = filepath.Join(t.TempDir(), "ca.pem")
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(s.ca, block, 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

// CAFile is a PEM file with the certificate git must trust for the server.
func (s *Server) CAFile() string { return s.ca }

// AddRepo makes a bare repository repo ("owner/name") with one commit of
// files on main and returns its clone URL and the commit's SHA.
func (s *Server) AddRepo(t testing.TB, repo string, files map[string]string) (cloneURL, sha string) {
	t.Helper()
	src, sha := testenv.GitRepo(t, files)
	dst := filepath.Join(s.root, repo+".git")
	out, err := exec.Command("git", "clone", "-q", "--bare", src, dst).CombinedOutput()
	if err != nil {
		t.Fatalf("git clone --bare: %v: %s", err, out)
	}
	return s.URL + "/" + repo + ".git", sha
}

// Seen lists the tokens of the requests let through, in order.
func (s *Server) Seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

func (s *Server) handler() http.Handler {
	backend := &cgi.Handler{Path: Backend, Root: "/",
		Env: []string{"GIT_PROJECT_ROOT=" + s.root, "GIT_HTTP_EXPORT_ALL=1"}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, token, ok := r.BasicAuth()
		if !ok || user != "x-access-token" || !s.accept(token, repoOf(r.URL.Path)) {
			w.Header().Set("WWW-Authenticate", `Basic realm="narwhal-test"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		s.mu.Lock()
		s.seen = append(s.seen, token)
		s.mu.Unlock()
		backend.ServeHTTP(w, r)
	})
}

// repoOf is the owner/name of a request path /<owner>/<name>.git/...
func repoOf(path string) string {
	parts := strings.SplitN(strings.TrimPrefix(path, "/"), "/", 3)
	if len(parts) < 2 {
		return ""
	}
	return parts[0] + "/" + strings.TrimSuffix(parts[1], ".git")
}
