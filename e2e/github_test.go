package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	gh "github.com/google/go-github/v57/github"

	"github.com/narwhal-ci/narwhal/internal/github"
)

// status is one commit status the GitHub stand-in received.
type status struct {
	SHA, State, Description, Context string
}

// fakeGitHub is a local GitHub stand-in: it records commit statuses (POST
// /repos/{owner}/{repo}/statuses/{sha}), has no narwhal.yml in the contents
// API (404), and serves git repositories under /git/ with git http-backend.
type fakeGitHub struct {
	srv    *httptest.Server
	client *gh.Client
	mu     sync.Mutex
	got    []status
}

// newFakeGitHub serves the bare repositories under gitRoot.
func newFakeGitHub(t *testing.T, gitRoot string) *fakeGitHub {
	t.Helper()
	f := &fakeGitHub{}
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/git/", &cgi.Handler{Path: gitPath, Args: []string{"http-backend"}, Root: "/git",
		Env: []string{"GIT_PROJECT_ROOT=" + gitRoot, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_GLOBAL=/dev/null"}})
	mux.HandleFunc("POST /repos/{owner}/{repo}/statuses/{sha}", f.postStatus)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	if f.client, err = github.NewClient("token", f.srv.URL+"/"); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fakeGitHub) postStatus(w http.ResponseWriter, r *http.Request) {
	var st gh.RepoStatus
	if err := json.NewDecoder(r.Body).Decode(&st); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.got = append(f.got, status{SHA: r.PathValue("sha"), State: st.GetState(),
		Description: st.GetDescription(), Context: st.GetContext()})
	f.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
	w.Write([]byte(`{"id":1}`))
}

func (f *fakeGitHub) statuses() []status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]status(nil), f.got...)
}

// bareRepo makes a bare copy of the repository at dir under root as
// name.git and returns its URL on f.
func (f *fakeGitHub) bareRepo(t *testing.T, root, dir, name string) string {
	t.Helper()
	bare := filepath.Join(root, name+".git")
	if out, err := exec.Command("git", "clone", "-q", "--bare", dir, bare).CombinedOutput(); err != nil {
		t.Fatalf("git clone --bare: %v\n%s", err, out)
	}
	return f.srv.URL + "/git/" + name + ".git"
}

// states returns the states of ss joined by spaces.
func states(ss []status) string {
	var b []string
	for _, s := range ss {
		b = append(b, s.State)
	}
	return strings.Join(b, " ")
}
