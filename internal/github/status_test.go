package github

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	gh "github.com/google/go-github/v57/github"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// fakeGitHub speaks the two endpoints narwhal calls: POST
// /repos/{owner}/{repo}/statuses/{sha} (recorded) and GET
// /repos/{owner}/{repo}/contents/narwhal.yml?ref=<sha> (from files, by SHA).
type fakeGitHub struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []postedStatus
	files    map[string]string   // SHA → narwhal.yml
	compares map[string][]string // "base...head" → the files the compare API lists
	gets     int
	failures int // answer 500 to this many requests first
	auth     []string
}

type postedStatus struct {
	Path string
	gh.RepoStatus
}

func newFakeGitHub(t *testing.T) *fakeGitHub {
	f := &fakeGitHub{files: map[string]string{}, compares: map[string][]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /repos/{owner}/{repo}/statuses/{sha}", f.postStatus)
	mux.HandleFunc("GET /repos/{owner}/{repo}/contents/{path}", f.getContents)
	mux.HandleFunc("GET /repos/{owner}/{repo}/compare/{basehead}", f.getCompare)
	f.Server = httptest.NewServer(f.failFirst(mux))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeGitHub) failFirst(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		fail := f.failures > 0
		if fail {
			f.failures--
		}
		f.mu.Unlock()
		if fail {
			http.Error(w, `{"message":"Server Error"}`, http.StatusInternalServerError)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (f *fakeGitHub) postStatus(w http.ResponseWriter, r *http.Request) {
	var st gh.RepoStatus
	if err := json.NewDecoder(r.Body).Decode(&st); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.statuses = append(f.statuses, postedStatus{Path: r.URL.Path, RepoStatus: st})
	f.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(st)
}

func (f *fakeGitHub) getContents(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.gets++
	content, ok := f.files[r.URL.Query().Get("ref")]
	f.mu.Unlock()
	if !ok || r.PathValue("path") != PipelineFile {
		http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"type": "file", "name": PipelineFile, "path": PipelineFile,
		"encoding": "base64", "content": base64.StdEncoding.EncodeToString([]byte(content))})
}

// getCompare answers the compare API from compares: the files, or 404.
func (f *fakeGitHub) getCompare(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	names, ok := f.compares[r.PathValue("basehead")]
	f.mu.Unlock()
	if !ok {
		http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
		return
	}
	files := []map[string]any{}
	for _, n := range names {
		files = append(files, map[string]any{"filename": n, "status": "modified"})
	}
	json.NewEncoder(w).Encode(map[string]any{"status": "ahead", "files": files})
}

func (f *fakeGitHub) posted() []postedStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]postedStatus(nil), f.statuses...)
}

func (f *fakeGitHub) client(t *testing.T) *gh.Client {
	t.Helper()
	c, err := NewClient("tok-123", f.URL)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var start = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

func ghJob(s ci.Status) ci.Job {
	return ci.Job{ID: "j1", Repo: "acme/app", CloneURL: "https://github.com/acme/app.git",
		SHA: "0123456789abcdef0123456789abcdef01234567", Status: s, Attempt: 1, RunnerID: "runner-1"}
}

func TestCommitStatus(t *testing.T) {
	t.Parallel()
	ended := func(s ci.Status, why string) ci.Job {
		j := ghJob(s)
		j.StartedAt, j.FinishedAt, j.Error = start, start.Add(42*time.Second), why
		return j
	}
	waiting := ghJob(ci.StatusQueued)
	waiting.Waiting, waiting.RunnerID = "all 2 matching runners busy", ""
	again := ghJob(ci.StatusRunning)
	again.Attempt = 2
	tests := []struct {
		job         ci.Job
		state, desc string
	}{
		{waiting, "pending", "queued: all 2 matching runners busy"},
		{ghJob(ci.StatusAssigned), "pending", "assigned to runner-1"},
		{ghJob(ci.StatusRunning), "pending", "running on runner-1"},
		{again, "pending", "running on runner-1 (attempt 2)"},
		{ended(ci.StatusSuccess, ""), "success", "succeeded in 42s"},
		{ended(ci.StatusFailure, ""), "failure", "failed in 42s"},
		{ended(ci.StatusError, "runner lost 3 times"), "error", "error: runner lost 3 times"},
		{ended(ci.StatusCancelled, "cancelled by user"), "error", "cancelled by user"},
		{ended(ci.StatusError, strings.Repeat("x", 200)), "error", "error: " + strings.Repeat("x", 132) + "…"},
	}
	for _, tt := range tests {
		st := CommitStatus(tt.job, "", "https://api.example.com")
		if st.GetState() != tt.state || st.GetDescription() != tt.desc || st.GetContext() != "narwhal/ci" ||
			st.GetTargetURL() != "https://api.example.com/jobs/j1" {
			t.Errorf("%s: got %s %q %s %s; want %s %q", tt.job.Status, st.GetState(), st.GetDescription(),
				st.GetContext(), st.GetTargetURL(), tt.state, tt.desc)
		}
	}
	if st := CommitStatus(ghJob(ci.StatusRunning), "build", ""); st.GetContext() != "narwhal/build" || st.TargetURL != nil {
		t.Errorf("named pipeline without a self URL: %s %v", st.GetContext(), st.TargetURL)
	}
}

func TestReportPostsStatus(t *testing.T) {
	t.Parallel()
	f := newFakeGitHub(t)
	j := ghJob(ci.StatusRunning)
	f.files[j.SHA] = "name: build\nlabels: [linux]\nimage: busybox\nsteps:\n  - name: test\n    commands: true\n"
	c := f.client(t)
	r := NewStatusReporter(SharedClient{C: c}, StatusOptions{SelfURL: "https://narwhal.example.com/", Names: NewConfigFetcher(SharedClient{C: c})})
	if err := r.Report(t.Context(), j); err != nil {
		t.Fatal(err)
	}
	got := f.posted()
	if len(got) != 1 {
		t.Fatalf("%d statuses posted", len(got))
	}
	st := got[0]
	if st.Path != "/repos/acme/app/statuses/"+j.SHA || st.GetState() != "pending" || st.GetContext() != "narwhal/build" ||
		st.GetDescription() != "running on runner-1" || st.GetTargetURL() != "https://narwhal.example.com/jobs/j1" {
		t.Fatalf("posted %s %+v", st.Path, st.RepoStatus)
	}
	if f.auth[len(f.auth)-1] != "Bearer tok-123" {
		t.Errorf("Authorization %q", f.auth[len(f.auth)-1])
	}
}

func TestReportSkipsLocalRepositories(t *testing.T) {
	t.Parallel()
	f := newFakeGitHub(t)
	r := NewStatusReporter(SharedClient{C: f.client(t)}, StatusOptions{})
	for _, url := range []string{"file:///srv/git/app", "/srv/git/app", "./app"} {
		j := ghJob(ci.StatusRunning)
		j.CloneURL = url
		if err := r.Report(t.Context(), j); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(f.posted()); n != 0 {
		t.Fatalf("%d statuses posted for local repositories", n)
	}
}

func TestReportErrors(t *testing.T) {
	t.Parallel()
	f := newFakeGitHub(t)
	f.failures = 1
	r := NewStatusReporter(SharedClient{C: f.client(t)}, StatusOptions{})
	if err := r.Report(t.Context(), ghJob(ci.StatusSuccess)); err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("Report on a 500 = %v, want the error", err)
	}
	if err := r.Report(t.Context(), ghJob(ci.StatusSuccess)); err != nil {
		t.Fatalf("Report after the server recovered = %v", err)
	}
	bad := ghJob(ci.StatusSuccess)
	bad.Repo = "noslash"
	if err := r.Report(t.Context(), bad); err == nil {
		t.Fatal("Report of a job without owner/name succeeded")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := r.Report(ctx, ghJob(ci.StatusSuccess)); err == nil {
		t.Fatal("Report with a cancelled context succeeded")
	}
}

func TestNewClient(t *testing.T) {
	t.Parallel()
	c, err := NewClient("", "")
	if err != nil || c.BaseURL.String() != "https://api.github.com/" {
		t.Fatalf("default client: %v, %v", c.BaseURL, err)
	}
	c, err = NewClient("t", "https://ghe.example.com/api/v3")
	if err != nil || c.BaseURL.String() != "https://ghe.example.com/api/v3/" {
		t.Fatalf("enterprise client: %v, %v", c.BaseURL, err)
	}
	if _, err := NewClient("t", "not a url"); err == nil {
		t.Fatal("a bad base URL was accepted")
	}
}
