package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/ghauth"
	"github.com/narwhal-ci/narwhal/internal/logsink"
	"github.com/narwhal-ci/narwhal/internal/logstore"
	"github.com/narwhal-ci/narwhal/internal/logstore/fs"
	"github.com/narwhal-ci/narwhal/internal/testenv"
	"github.com/narwhal-ci/narwhal/internal/testenv/ghapi"
	"github.com/narwhal-ci/narwhal/internal/testenv/gitserver"
	"github.com/narwhal-ci/narwhal/internal/workspace"
)

// tokenLifetime: ghinstallation renews a token a minute before it expires,
// so these are renewed two seconds after they are minted, while a git server
// still takes them for a minute.
const tokenLifetime = time.Minute + 2*time.Second

// privateYML runs env and looks for the token in the checkout; the token
// starts with ghs_.
func privateYML(image string) string {
	return fmt.Sprintf(`image: %s
steps:
  - name: look
    commands:
      - env
      - cat .git/config
      - "grep -rq ghs_ .git || echo no-token-on-disk"
      - "env | grep -q ghs_ || echo no-token-in-env"
`, image)
}

// A private repository on an authenticated git server, a GitHub App (the
// API stand-in) minting installation tokens, the dispatcher minting one per
// job, runnerd with the Docker executor cloning with it: the job succeeds,
// the token is in no log, no step environment and no .git/config; a second
// job after the token's renewal point clones with a new token. Commit
// statuses go out with the same installation tokens.
func TestPrivateRepoWithGitHubApp(t *testing.T) {
	t.Parallel()
	image := testenv.Image(t)
	stand := ghapi.New(t, tokenLifetime, "acme/app")
	git := gitserver.New(t, stand.Valid)
	url, sha := git.AddRepo(t, "acme/app", map[string]string{"narwhal.yml": privateYML(image)})
	app, err := ghauth.NewApp(ghauth.AppConfig{AppID: ghapi.AppID, PrivateKey: stand.KeyPEM(), BaseURL: stand.URL})
	if err != nil {
		t.Fatal(err)
	}
	s := newStack(t, stackOpts{creds: app})
	work := t.TempDir()
	s.runner(runnerOpts{id: "a", executor: "docker", gitCA: git.CAFile(), workDir: work})

	first := s.privateJob(url, sha, "1")
	assertClean(t, jobLogOf(t, work, first), stand.Minted())
	before := git.Seen()
	time.Sleep(2 * time.Second) // past the first token's renewal point
	second := s.privateJob(url, sha, "2")
	minted, after := stand.Minted(), git.Seen()
	// Commit statuses share the repository's token and may renew it too, so
	// compare the clones: the second used another token, minted meanwhile.
	old, renewed := before[len(before)-1], after[len(after)-1]
	if renewed == old || !slices.Contains(minted, renewed) || len(after) == len(before) {
		t.Errorf("the second clone used %q, the first %q; want a new minted token (minted %d)", renewed, old, len(minted))
	}
	assertClean(t, jobLogOf(t, work, second), minted)
	eventually(t, 10*time.Second, "success statuses with minted tokens", func() bool {
		n := 0
		for _, st := range stand.Statuses() {
			if st.State == "success" && st.SHA == sha && slices.Contains(minted, st.Token) {
				n++
			}
		}
		return n >= 2
	})
}

// privateJob submits a push of url at sha (the ID made unique by n) and
// waits for its success.
func (s *stack) privateJob(url, sha, n string) ci.Job {
	s.t.Helper()
	job := localJob(url, sha)
	job.ID = ci.JobID(job.Repo, sha, job.Event, 0) + "-" + n + randHex(2)
	j := s.waitStatus(s.submit(job).ID, ci.StatusSuccess, 60*time.Second)
	return j
}

// assertClean fails when a job log holds a token or anything masked, or
// lacks what the steps print when no token is on disk or in the environment.
func assertClean(t *testing.T, log string, tokens []string) {
	t.Helper()
	for _, tok := range tokens {
		if strings.Contains(log, tok) || strings.Contains(log, workspace.BasicCredential(tok)) {
			t.Errorf("the job log holds a clone token:\n%s", log)
		}
	}
	for _, want := range []string{"CI_REPO=acme/app", "no-token-on-disk", "no-token-in-env", "[remote \"origin\"]"} {
		if !strings.Contains(log, want) {
			t.Errorf("the job log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, logsink.Mask) {
		t.Errorf("something was masked, so a step saw a token:\n%s", log)
	}
}

// jobLogOf reads the log runnerd wrote under work for job.
func jobLogOf(t *testing.T, work string, job ci.Job) string {
	t.Helper()
	data, _, err := fs.New(filepath.Join(work, "logs")).Read(context.Background(), logstore.LogID(job.ID, job.Attempt), 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// Without clone credentials a private repository's job ends in error with
// the reason a person acts on; a repository the App is not installed on
// waits, saying so.
func TestPrivateRepoWithoutCredentials(t *testing.T) {
	t.Parallel()
	stand := ghapi.New(t, time.Hour, "acme/app")
	git := gitserver.New(t, stand.Valid)
	url, sha := git.AddRepo(t, "acme/app", map[string]string{"narwhal.yml": "image: none\nsteps:\n  - name: x\n    commands: [true]\n"})
	s := newStack(t, stackOpts{})
	s.runner(runnerOpts{id: "a", executor: "host", gitCA: git.CAFile()})
	j := s.waitJob(s.submit(localJob(url, sha)).ID, 30*time.Second, "final", func(j ci.Job) bool { return j.Status.Final() })
	if j.Status != ci.StatusError || !strings.HasPrefix(j.Error, workspace.ReasonAuthRequired) {
		t.Fatalf("job ended %s (%q), want error %q", j.Status, j.Error, workspace.ReasonAuthRequired)
	}

	app, err := ghauth.NewApp(ghauth.AppConfig{AppID: ghapi.AppID, PrivateKey: stand.KeyPEM(), BaseURL: stand.URL})
	if err != nil {
		t.Fatal(err)
	}
	other := newStack(t, stackOpts{creds: app})
	other.runner(runnerOpts{id: "b", executor: "host", gitCA: git.CAFile()})
	job := localJob(url, sha)
	job.Repo = "acme/elsewhere"
	other.waitJob(other.submit(job).ID, 30*time.Second, "waiting for credentials", func(j ci.Job) bool {
		return j.Status == ci.StatusQueued && strings.Contains(j.Waiting, "not installed on acme/elsewhere")
	})
}
