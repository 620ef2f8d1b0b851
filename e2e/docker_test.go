package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/apiclient"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/github"
	"github.com/narwhal-ci/narwhal/internal/testenv"
	"github.com/narwhal-ci/narwhal/internal/webhook"
)

const webhookSecret = "e2e-webhook-secret"

// A signed push webhook goes through the agent, the dispatcher and a runnerd
// with the Docker executor to success, and GitHub gets pending statuses and
// then success, in that order.
func TestWebhookToSuccessOnDocker(t *testing.T) {
	t.Parallel()
	image := testenv.Image(t)
	root := t.TempDir()
	fake := newFakeGitHub(t, root)
	dir, sha := gitRepo(t, fmt.Sprintf("image: %s\nsteps:\n  - name: build\n    commands: [\"echo built > out.txt\", \"cat out.txt\"]\n", image))
	cloneURL := fake.bareRepo(t, root, dir, "app")
	s := newStack(t, stackOpts{github: fake.client})
	s.runner(runnerOpts{id: "a", executor: "docker"})
	s.runner(runnerOpts{id: "b", executor: "docker"})

	hook := httptest.NewServer(webhook.NewHandler(webhook.Deps{Intake: s.intake, Secrets: webhook.SecretLines(webhookSecret)}))
	defer hook.Close()
	body, err := github.PushPayload(github.Commit{Repo: "acme/app", CloneURL: cloneURL, SHA: sha, Branch: "main",
		Message: "test", Author: "t", Email: "t@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	ans, err := apiclient.SendWebhook(context.Background(), apiclient.Webhook{URL: hook.URL, Event: "push", Secret: webhookSecret}, body)
	var created struct {
		JobID string `json:"job_id"`
	}
	if err != nil || ans.Status != http.StatusAccepted {
		t.Fatalf("webhook answered %d %s (%v)", ans.Status, ans.Body, err)
	}
	if err := json.Unmarshal(ans.Body, &created); err != nil || created.JobID == "" {
		t.Fatalf("webhook answer %s: %v", ans.Body, err)
	}
	j := s.waitJob(created.JobID, 60*time.Second, "final", func(j ci.Job) bool { return j.Status.Final() })
	if j.Status != ci.StatusSuccess {
		t.Fatalf("job ended %s: %s", j.Status, j.Error)
	}
	var got []status
	eventually(t, 10*time.Second, "success status", func() bool {
		got = fake.statuses()
		return len(got) > 0 && got[len(got)-1].State == "success"
	})
	t.Logf("statuses: %+v", got)
	// "assigned to" may be skipped when the runner's "running on" went out
	// first: statuses never go back (dispatch's statusOrder).
	if len(got) < 2 {
		t.Fatalf("statuses %q, want pending ... then success", states(got))
	}
	for i, st := range got {
		if st.SHA != sha || st.Context != got[0].Context {
			t.Fatalf("status %d: %+v, want SHA %s and context %s", i, st, sha, got[0].Context)
		}
		if i < len(got)-1 && st.State != "pending" {
			t.Fatalf("statuses %q: want pending ... success", states(got))
		}
	}
	if !strings.HasPrefix(got[len(got)-2].Description, "running on") {
		t.Fatalf("last pending status %q, want running on ...", got[len(got)-2].Description)
	}
	for i := 1; i < len(got); i++ {
		if strings.HasPrefix(got[i].Description, "assigned to") && strings.HasPrefix(got[i-1].Description, "running on") {
			t.Fatalf("statuses %+v: assigned reported after running", got)
		}
	}
}

// Cancel of a running Docker job ends it cancelled and removes its
// containers.
func TestCancelRunningDockerJob(t *testing.T) {
	t.Parallel()
	image := testenv.Image(t)
	s := newStack(t, stackOpts{})
	s.runner(runnerOpts{id: "a", executor: "docker"})
	s.runner(runnerOpts{id: "b", executor: "docker"})
	dir, sha := gitRepo(t, fmt.Sprintf("image: %s\nsteps:\n  - name: wait\n    commands: [\"sleep 600\"]\n", image))
	job := s.submit(localJob("file://"+dir, sha))
	s.waitStatus(job.ID, ci.StatusRunning, 60*time.Second)
	eventually(t, 20*time.Second, "the job's container", func() bool { return containers(t, job.ID) != "" })
	j, err := s.d.Cancel(context.Background(), job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != ci.StatusCancelled {
		t.Fatalf("cancel gave %s", j.Status)
	}
	eventually(t, 20*time.Second, "no containers of the job", func() bool { return containers(t, job.ID) == "" })
	if j := s.job(job.ID); j.Status != ci.StatusCancelled {
		t.Fatalf("job %s after cancel", j.Status)
	}
}

// containers lists the IDs of the containers of job id, running or not.
func containers(t *testing.T, id string) string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-aq", "--filter", "label=io.narwhal.job="+id).CombinedOutput()
	if err != nil {
		t.Fatalf("docker ps: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}
