package devstack

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/apiclient"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor/docker/dockertest"
	"github.com/narwhal-ci/narwhal/internal/github"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

const (
	deployToken = "dev-d3ploy-t0ken"
	publicNote  = "dev-publ1c-n0te"
)

// secretsPipeline: "public" reads a secret forks may have, "deploy" runs in
// an image of the password-protected registry and reads one they may not.
const secretsPipeline = `name: secrets
image: %[1]s
steps:
  - name: public
    secrets: [PUBLIC_NOTE]
    commands:
      - test "$PUBLIC_NOTE" = "` + publicNote + `" && echo public-ok
  - name: deploy
    image: %[2]s
    secrets: [DEPLOY_TOKEN]
    commands:
      - echo "token is $DEPLOY_TOKEN"
      - printf %%s "$DEPLOY_TOKEN" | base64
      - test "$DEPLOY_TOKEN" = "` + deployToken + `" && echo deploy-ok
`

// TestSecretsAndPrivateRegistry sets a repository's secrets and registry
// credentials through the API (as the CLI does), then runs its pipeline in
// real containers twice: pushed, both steps get their secrets, masked in
// the log in plain and base64 form, and the deploy step's image comes from
// the private registry; from a fork's pull request, the public step gets
// its allowed secret and the deploy step fails before it starts, saying
// why.
func TestSecretsAndPrivateRegistry(t *testing.T) {
	t.Parallel()
	image := testenv.Image(t)
	priv := dockertest.PrivateImage(t)
	cfg := testConfig(t)
	cfg.Executor, cfg.RunnerName, cfg.Runners = ExecDocker, uniqueName(t, "s"), 1
	s, _ := startStack(t, cfg)
	if s.Info().Executor != ExecDocker {
		testenv.Missing(t, "Docker (the stack chose "+s.Info().Executor+")")
	}
	repo := newRepo(t, map[string]string{"narwhal.yml": fmt.Sprintf(secretsPipeline, image, priv.Image)})
	setRepoSecrets(t, s, repo.Repo, priv.Auth.Host, priv.Auth.Username, priv.Auth.Password)

	id, err := s.Trigger(context.Background(), repo)
	if err != nil {
		t.Fatal(err)
	}
	if j := waitJob(t, s, id, 90*time.Second); j.Status != ci.StatusSuccess {
		t.Fatalf("pushed job: %s\n%s", jsonString(j), jobLog(t, s, id))
	}
	log := jobLog(t, s, id)
	t.Logf("pushed job log:\n%s", log)
	for _, want := range []string{"public | public-ok", "deploy | deploy-ok", "deploy | token is ********", "deploy | ********"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	for _, leak := range []string{deployToken, base64.StdEncoding.EncodeToString([]byte(deployToken)), publicNote, priv.Auth.Password} {
		if strings.Contains(log, leak) {
			t.Errorf("log shows %q:\n%s", leak, log)
		}
	}

	fork := sendForkPR(t, s, repo)
	j := waitJob(t, s, fork, 60*time.Second)
	want := "secret DEPLOY_TOKEN is not available to pull requests from forks"
	if j.Status != ci.StatusError || !strings.Contains(j.Error, want) {
		t.Fatalf("fork job: %s, want error %q\n%s", jsonString(j), want, jobLog(t, s, fork))
	}
	if flog := jobLog(t, s, fork); !strings.Contains(flog, "public | public-ok") || strings.Contains(flog, "deploy-ok") {
		t.Fatalf("fork job log:\n%s", flog)
	}
}

// setRepoSecrets sets DEPLOY_TOKEN, PUBLIC_NOTE (for forks too) and the
// registry's credentials of repo through the REST API.
func setRepoSecrets(t *testing.T, s *Stack, repo, host, user, password string) {
	t.Helper()
	c, err := apiclient.New(s.Info().APIURL, s.APIToken(), "test")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.SetSecret(ctx, repo, "DEPLOY_TOKEN", deployToken, false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetSecret(ctx, repo, "PUBLIC_NOTE", publicNote, true); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetRegistry(ctx, repo, host, user, password); err != nil {
		t.Fatal(err)
	}
	list, err := c.Secrets(ctx, repo)
	if err != nil || len(list) != 2 {
		t.Fatalf("secrets of %s: %+v, %v", repo, list, err)
	}
}

// sendForkPR sends the webhook of pull request 7 of c, opened from a fork,
// and returns the job's ID.
func sendForkPR(t *testing.T, s *Stack, c github.Commit) string {
	t.Helper()
	body, err := github.PullRequestPayload(c, 7, "main")
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatal(err)
	}
	head := ev["pull_request"].(map[string]any)["head"].(map[string]any)
	head["repo"] = map[string]any{"full_name": "mallory/fork", "name": "fork", "clone_url": "https://example.invalid/mallory/fork.git"}
	if body, err = json.Marshal(ev); err != nil {
		t.Fatal(err)
	}
	ans, err := apiclient.SendWebhook(context.Background(), apiclient.Webhook{URL: s.Info().WebhookURL, Event: "pull_request",
		Secret: s.WebhookSecret(), UserAgent: "test"}, body)
	if err != nil {
		t.Fatal(err)
	}
	var answer struct {
		JobID string `json:"job_id"`
	}
	if json.Unmarshal(ans.Body, &answer); ans.Status/100 != 2 || answer.JobID == "" {
		t.Fatalf("pull_request webhook: %d %s", ans.Status, ans.Body)
	}
	return answer.JobID
}
