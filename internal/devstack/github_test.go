package devstack

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor/fake"
	"github.com/narwhal-ci/narwhal/internal/github"
	"github.com/narwhal-ci/narwhal/internal/testenv/ghapi"
	"github.com/narwhal-ci/narwhal/internal/testenv/gitserver"
	"github.com/narwhal-ci/narwhal/internal/workspace"
)

const devToken = "ghp_devTokenFromAFile"

// privateCommit is a commit of a private repository on an authenticated git
// server that takes devToken only.
func privateCommit(t *testing.T) (*gitserver.Server, github.Commit) {
	srv := gitserver.New(t, gitserver.Token(devToken))
	url, sha := srv.AddRepo(t, "acme/private", map[string]string{"narwhal.yml": twoSteps})
	return srv, github.Commit{Repo: "acme/private", CloneURL: url, SHA: sha, Branch: "main"}
}

// TestPrivateRepoWithTokenFile: with --github-token-file (and the server's
// CA), a push of a private repository builds; the token is in no log.
func TestPrivateRepoWithTokenFile(t *testing.T) {
	t.Parallel()
	srv, commit := privateCommit(t)
	cfg := testConfig(t)
	cfg.Exec, cfg.GitCAFile = fake.New(), srv.CAFile()
	cfg.GitHub = GitHubConfig{TokenFile: filepath.Join(t.TempDir(), "token"), URL: srv.URL + "/api/v3/"}
	if err := os.WriteFile(cfg.GitHub.TokenFile, []byte(devToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ := startStack(t, cfg)
	id, err := s.Trigger(context.Background(), commit)
	if err != nil {
		t.Fatal(err)
	}
	if j := waitJob(t, s, id, 30*time.Second); j.Status != ci.StatusSuccess {
		t.Fatalf("job: %s", jsonString(j))
	}
	if got := s.Info().GitHub; got != "token from "+cfg.GitHub.TokenFile {
		t.Errorf("Info.GitHub = %q", got)
	}
	if seen := srv.Seen(); len(seen) == 0 || seen[0] != devToken {
		t.Errorf("git server saw tokens %q", seen)
	}
	if log := jobLog(t, s, id); strings.Contains(log, devToken) {
		t.Errorf("the token is in the job log:\n%s", log)
	}
}

// TestPrivateRepoWithoutCredentials: the same push without a token ends in
// error with the reason a person acts on.
func TestPrivateRepoWithoutCredentials(t *testing.T) {
	t.Parallel()
	srv, commit := privateCommit(t)
	cfg := testConfig(t)
	cfg.Exec, cfg.GitCAFile = fake.New(), srv.CAFile()
	s, _ := startStack(t, cfg)
	id, err := s.Trigger(context.Background(), commit)
	if err != nil {
		t.Fatal(err)
	}
	j := waitJob(t, s, id, 30*time.Second)
	if j.Status != ci.StatusError || !strings.HasPrefix(j.Error, workspace.ReasonAuthRequired) {
		t.Fatalf("job: %s; want error %q", jsonString(j), workspace.ReasonAuthRequired)
	}
}

func TestGitHubConfigErrors(t *testing.T) {
	t.Parallel()
	for _, g := range []GitHubConfig{
		{TokenFile: "t", AppID: 1, AppKeyFile: "k"},
		{AppID: 1},
		{AppKeyFile: "k"},
		{TokenFile: filepath.Join(t.TempDir(), "missing")},
		{AppID: 1, AppKeyFile: filepath.Join(t.TempDir(), "missing")},
	} {
		if _, err := g.source(); err == nil {
			t.Errorf("%+v accepted", g)
		}
	}
}

// TestPrivateRepoWithGitHubApp: with --github-app-id and --github-app-key-file
// (the API stand-in as GitHub), each job clones with an installation token
// minted for its repository.
func TestPrivateRepoWithGitHubApp(t *testing.T) {
	t.Parallel()
	stand := ghapi.New(t, time.Hour, "acme/private")
	srv := gitserver.New(t, stand.Valid)
	url, sha := srv.AddRepo(t, "acme/private", map[string]string{"narwhal.yml": twoSteps})
	cfg := testConfig(t)
	cfg.Exec, cfg.GitCAFile = fake.New(), srv.CAFile()
	cfg.GitHub = GitHubConfig{AppID: ghapi.AppID, AppKeyFile: filepath.Join(t.TempDir(), "app.pem"), URL: stand.URL}
	if err := os.WriteFile(cfg.GitHub.AppKeyFile, stand.KeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ := startStack(t, cfg)
	id, err := s.Trigger(context.Background(), github.Commit{Repo: "acme/private", CloneURL: url, SHA: sha, Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if j := waitJob(t, s, id, 30*time.Second); j.Status != ci.StatusSuccess {
		t.Fatalf("job: %s", jsonString(j))
	}
	if minted, seen := stand.Minted(), srv.Seen(); len(minted) != 1 || len(seen) == 0 || seen[0] != minted[0] {
		t.Errorf("minted %d tokens; the git server saw %d requests, not with the minted token", len(minted), len(seen))
	}
}
