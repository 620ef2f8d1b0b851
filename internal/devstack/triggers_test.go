package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/apiclient"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/dispatch"
	"github.com/narwhal-ci/narwhal/internal/executor/fake"
	"github.com/narwhal-ci/narwhal/internal/github"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// dockerStack starts a stack whose one runner uses real containers.
func dockerStack(t *testing.T, edit func(*Config)) *Stack {
	t.Helper()
	cfg := testConfig(t)
	cfg.Executor, cfg.RunnerName, cfg.Runners = ExecDocker, uniqueName(t, "t"), 1
	if edit != nil {
		edit(&cfg)
	}
	s, _ := startStack(t, cfg)
	return s
}

// localRepo is a git repository the tests commit to, as a user would.
type localRepo struct {
	t   *testing.T
	dir string
}

func newLocalRepo(t *testing.T) *localRepo {
	r := &localRepo{t: t, dir: filepath.Join(t.TempDir(), "repo")}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r.git("-c", "init.defaultBranch=main", "init", "-q")
	return r
}

func (r *localRepo) git(args ...string) string {
	r.t.Helper()
	out, err := git(context.Background(), r.dir, append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

// commit writes files (name → content) and commits them; it returns the
// github.Commit of the new head of main.
func (r *localRepo) commit(files map[string]string) github.Commit {
	r.t.Helper()
	for name, body := range files {
		path := filepath.Join(r.dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.git("add", "-A")
	r.git("commit", "-q", "--no-gpg-sign", "-m", "change "+strings.Join(keys(files), " "))
	return github.Commit{Repo: "local/repo", CloneURL: "file://" + r.dir, SHA: r.git("rev-parse", "HEAD"),
		Branch: "main", Message: "change", Author: "t", Email: "t@example.com"}
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// deliver sends a push delivery: PushPayload(c) changed by edit, signed
// with the stack's secret, and returns the ID of the job it made.
func deliver(t *testing.T, s *Stack, c github.Commit, edit func(m map[string]any)) string {
	t.Helper()
	body, err := github.PushPayload(c)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	if body, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	ans, err := apiclient.SendWebhook(context.Background(), apiclient.Webhook{URL: s.Info().WebhookURL, Event: "push",
		Secret: s.WebhookSecret(), UserAgent: "GitHub-Hookshot/test"}, body)
	var answer struct {
		JobID string `json:"job_id"`
	}
	if err != nil || json.Unmarshal(ans.Body, &answer) != nil || answer.JobID == "" {
		t.Fatalf("webhook: %d %s (%v)", ans.Status, ans.Body, err)
	}
	return answer.JobID
}

// pushOf makes a delivery a push of the commits from before to c, listing
// files as the one commit's modified files.
func pushOf(before string, files ...string) func(m map[string]any) {
	return func(m map[string]any) {
		m["before"] = before
		commit := m["head_commit"].(map[string]any)
		commit["added"], commit["removed"], commit["modified"] = []string{}, []string{}, files
		m["commits"] = []any{commit}
	}
}

// TestAnnotatedTagBuildsTheCommit: GitHub's push of an annotated tag names
// the tag object in after and the commit in head_commit.id; the tag job
// checks out the commit, sees CI_COMMIT_TAG, and succeeds in a real
// container, while the branch job of the same commit is another job, skipped
// by the release pipeline's when.
func TestAnnotatedTagBuildsTheCommit(t *testing.T) {
	t.Parallel()
	image := testenv.Image(t)
	s := dockerStack(t, nil)
	r := newLocalRepo(t)
	c := r.commit(map[string]string{"narwhal.yml": fmt.Sprintf(`name: release
image: %s
when:
  event: tag
  ref: ["refs/tags/v*"]
steps:
  - name: publish
    commands: ["echo tag=$CI_COMMIT_TAG ref=$CI_COMMIT_REF head=$(cat .git/HEAD 2>/dev/null || echo none)"]
`, image)})
	r.git("tag", "-a", "-m", "release 1.0", "v1.0.0")
	tagObject := r.git("rev-parse", "v1.0.0")
	if tagObject == c.SHA {
		t.Fatal("an annotated tag's object must differ from its commit")
	}
	tagID := deliver(t, s, c, func(m map[string]any) {
		m["ref"], m["after"], m["before"], m["base_ref"] = "refs/tags/v1.0.0", tagObject, strings.Repeat("0", 40), "refs/heads/main"
		m["created"], m["commits"] = true, []any{}
	})
	j := waitJob(t, s, tagID, 60*time.Second)
	if j.Status != ci.StatusSuccess || j.SHA != c.SHA || j.Event != ci.EventTag || j.Ref != "refs/tags/v1.0.0" {
		t.Fatalf("tag job: %s\n%s", jsonString(j), jobLog(t, s, tagID))
	}
	if log := jobLog(t, s, tagID); !strings.Contains(log, "tag=v1.0.0 ref=refs/tags/v1.0.0") {
		t.Errorf("log lacks CI_COMMIT_TAG:\n%s", log)
	}
	branchID, err := s.Trigger(context.Background(), c)
	if err != nil || branchID == tagID {
		t.Fatalf("branch job %q (%v) must be another job than the tag's %s", branchID, err, tagID)
	}
	if b := waitJob(t, s, branchID, 30*time.Second); b.Status != ci.StatusSkipped || b.Error != github.SkipNoMatch {
		t.Errorf("branch job of the release pipeline: %s %q, want skipped", b.Status, b.Error)
	}
}

// TestPathFilterSkips: a pipeline filtered to src/** is skipped for a push
// that touched only docs/ (recorded skipped with its reason, and a commit
// status of success "skipped: no matching paths"), whether the delivery
// listed the files or left them to a diff (a truncated list), and runs in a
// real container for a push that touched src/, where a step filtered to
// headers is skipped.
func TestPathFilterSkips(t *testing.T) {
	t.Parallel()
	image := testenv.Image(t)
	s := dockerStack(t, nil)
	r := newLocalRepo(t)
	first := r.commit(map[string]string{"src/main.c": "int main;\n", "narwhal.yml": fmt.Sprintf(`name: build
image: %s
when:
  path: ["src/**"]
steps:
  - name: build
    commands: [ls src]
  - name: headers
    commands: [ls src/*.h]
    when:
      path: ["src/**/*.h"]
`, image)})
	docs := r.commit(map[string]string{"docs/guide/intro.md": "# intro\n"})
	listed := deliver(t, s, docs, pushOf(first.SHA, "docs/guide/intro.md"))
	j := waitJob(t, s, listed, 30*time.Second)
	if j.Status != ci.StatusSkipped || j.Error != "no matching paths" {
		t.Fatalf("docs-only push: %s", jsonString(j))
	}
	if st := github.CommitStatus(j, "build", ""); st.GetState() != "success" || st.GetDescription() != "skipped: no matching paths" {
		t.Errorf("commit status: %s %q", st.GetState(), st.GetDescription())
	}
	more := r.commit(map[string]string{"docs/guide/more.md": "# more\n"})
	diffed := deliver(t, s, more, func(m map[string]any) { // 20 commits: GitHub may have left some out
		m["before"] = first.SHA
		m["commits"] = make([]any, 20)
		for i := range 20 {
			m["commits"].([]any)[i] = map[string]any{"id": fmt.Sprintf("%040x", i), "modified": []string{"README"}}
		}
	})
	if j := waitJob(t, s, diffed, 30*time.Second); j.Status != ci.StatusSkipped {
		t.Errorf("truncated docs-only push, diffed: %s", jsonString(j))
	}
	code := r.commit(map[string]string{"src/util.c": "int util;\n"})
	built := deliver(t, s, code, pushOf(more.SHA, "src/util.c"))
	j = waitJob(t, s, built, 60*time.Second)
	if j.Status != ci.StatusSuccess || len(j.Steps) != 2 || j.Steps[0].Status != ci.StepSuccess || j.Steps[1].Status != ci.StepSkipped {
		t.Errorf("src push: build runs, headers (when.path src/**/*.h) is skipped: %s\n%s", jsonString(j), jobLog(t, s, built))
	}
}

// TestSupersededPush: two quick pushes to one branch, with the deployment
// cancelling superseded pushes: the first job, running in a container, ends
// cancelled "superseded by <second>", and the second succeeds.
func TestSupersededPush(t *testing.T) {
	t.Parallel()
	image := testenv.Image(t)
	s := dockerStack(t, func(c *Config) { c.CancelSupersededPushes = true })
	r := newLocalRepo(t)
	slow := r.commit(map[string]string{"narwhal.yml": fmt.Sprintf(
		"name: ci\nimage: %s\nsteps:\n  - name: test\n    commands: [echo started, sleep 300]\n", image)})
	first := deliver(t, s, slow, pushOf(strings.Repeat("0", 40), "narwhal.yml"))
	waitLogLine(t, s, first, "test | started", 30*time.Second)
	quick := r.commit(map[string]string{"narwhal.yml": fmt.Sprintf(
		"name: ci\nimage: %s\nsteps:\n  - name: test\n    commands: [echo quick]\n", image)})
	second := deliver(t, s, quick, pushOf(slow.SHA, "narwhal.yml"))
	if j := waitJob(t, s, first, 30*time.Second); j.Status != ci.StatusCancelled || j.Error != dispatch.SupersededPrefix+second {
		t.Errorf("first job: %s %q, want cancelled, superseded by %s", j.Status, j.Error, second)
	}
	if j := waitJob(t, s, second, 60*time.Second); j.Status != ci.StatusSuccess {
		t.Errorf("second job: %s\n%s", jsonString(j), jobLog(t, s, second))
	}
}

// TestWebhookSecretFiles: during a rotation the state directory's secret
// signs and the secrets of --webhook-secret-file are accepted as well, each
// byte for byte: a comma is part of a secret, never a separator.
func TestWebhookSecretFiles(t *testing.T) {
	t.Parallel()
	old := filepath.Join(t.TempDir(), "old-secret")
	if err := os.WriteFile(old, []byte("old,with comma\r\nolder\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.Exec, cfg.WebhookSecretFiles = fake.New(), []string{old}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.Dir, "webhook-secret"), []byte(" new secret \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ := startStack(t, cfg)
	if s.WebhookSecret() != " new secret " {
		t.Errorf("the kept secret is %q, want it byte for byte", s.WebhookSecret())
	}
	c := newRepo(t, map[string]string{"narwhal.yml": twoSteps})
	body, err := github.PushPayload(c)
	if err != nil {
		t.Fatal(err)
	}
	for secret, accepted := range map[string]bool{s.WebhookSecret(): true, "old,with comma": true, "older": true, "old": false, "with comma": false} {
		ans, err := apiclient.SendWebhook(context.Background(), apiclient.Webhook{URL: s.Info().WebhookURL, Event: "push",
			Secret: secret, UserAgent: "GitHub-Hookshot/test"}, body)
		if err != nil || (ans.Status/100 == 2) != accepted || (!accepted && ans.Status != 401) {
			t.Errorf("signed with %q: %d %s (%v), want accepted %v", secret, ans.Status, ans.Body, err, accepted)
		}
	}
	cfg = testConfig(t)
	cfg.Exec, cfg.WebhookSecretFiles = fake.New(), []string{filepath.Join(t.TempDir(), "missing")}
	if _, err := Start(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "webhook secret file") {
		t.Errorf("a missing secret file: %v, want an error", err)
	}
}
