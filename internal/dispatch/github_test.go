package dispatch

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/github"
)

// The GitHub adapters fit the dispatcher's interfaces.
var (
	_ StatusReporter = (*github.StatusReporter)(nil)
	_ ConfigFetcher  = (*github.ConfigFetcher)(nil)
)

// statusServer is a GitHub that takes POST /repos/{owner}/{repo}/statuses/{sha}
// and answers 502 to its first fail requests.
type statusServer struct {
	*httptest.Server
	mu    sync.Mutex
	fail  int
	posts []map[string]string
}

func newStatusServer(t *testing.T, fail int) *statusServer {
	s := &statusServer{fail: fail}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /repos/{owner}/{repo}/statuses/{sha}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.fail > 0 {
			s.fail--
			http.Error(w, `{"message":"bad gateway"}`, http.StatusBadGateway)
			return
		}
		var body map[string]string
		json.NewDecoder(r.Body).Decode(&body)
		body["sha"] = r.PathValue("sha")
		s.posts = append(s.posts, body)
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{}`))
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func (s *statusServer) states() (states, descriptions []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.posts {
		states, descriptions = append(states, p["state"]), append(descriptions, p["description"])
	}
	return states, descriptions
}

// githubRig is a rig whose statuses go to a statusServer through the real
// github.StatusReporter.
func githubRig(t *testing.T, srv *statusServer) *rig {
	t.Helper()
	client, err := github.NewClient("token", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	reporter := github.NewStatusReporter(github.SharedClient{C: client}, github.StatusOptions{SelfURL: "https://narwhal.example.com"})
	return newRig(t, Config{StatusAttempts: 3, StatusTimeout: time.Second}, func(d *Deps) { d.Status = reporter })
}

func TestGitHubStatusSequence(t *testing.T) {
	t.Parallel()
	srv := newStatusServer(t, 0)
	g := githubRig(t, srv)
	g.runner(t, "runner-1", 0, 2)
	j := g.job(t, "abc123")
	g.handle(t, j)
	g.event(t, jobEvent(j, "runner-1", 1, ci.StatusRunning))
	g.clock.Add(42 * time.Second)
	g.event(t, jobEvent(j, "runner-1", 1, ci.StatusSuccess))
	states, descs := srv.states()
	if !slices.Equal(states, []string{"pending", "pending", "success"}) ||
		!slices.Equal(descs, []string{"assigned to runner-1", "running on runner-1", "succeeded in 42s"}) {
		t.Fatalf("statuses %v %q", states, descs)
	}
	srv.mu.Lock()
	last := srv.posts[2]
	srv.mu.Unlock()
	if last["sha"] != "abc123" || last["context"] != "narwhal/ci" || last["target_url"] != "https://narwhal.example.com/jobs/"+j.ID {
		t.Errorf("last status %v", last)
	}
}

func TestGitHubFlakyStillGetsStatus(t *testing.T) {
	t.Parallel()
	srv := newStatusServer(t, 2)
	g := githubRig(t, srv)
	j := g.assigned(t, "abc124", "runner-1", 1)
	g.event(t, jobEvent(j, "runner-1", 1, ci.StatusFailure))
	if states, _ := srv.states(); !slices.Equal(states, []string{"failure"}) {
		t.Fatalf("statuses %v, want [failure] after two failed tries", states)
	}
}

func TestGitHubDownDoesNotFailHandler(t *testing.T) {
	t.Parallel()
	srv := newStatusServer(t, 0)
	srv.Close()
	g := githubRig(t, srv)
	j := g.assigned(t, "abc125", "runner-1", 1)
	start := time.Now()
	g.event(t, jobEvent(j, "runner-1", 1, ci.StatusSuccess)) // fails the test on an error
	if got := g.get(t, j.ID); got.Status != ci.StatusSuccess {
		t.Fatalf("job %s, want success", got.Status)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the handler took %v with GitHub down", d)
	}
}
