package runner

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor/fake"
	"github.com/narwhal-ci/narwhal/internal/logsink"
	"github.com/narwhal-ci/narwhal/internal/testenv"
	"github.com/narwhal-ci/narwhal/internal/testenv/gitserver"
	"github.com/narwhal-ci/narwhal/internal/workspace"
)

const cloneToken = "ghs_runnerCloneToken7"

// TestPrivateCloneTokenIsMasked: a job with its clone token clones from the
// authenticated server; a step that prints the token shows it masked, and
// the step's environment lacks it.
func TestPrivateCloneTokenIsMasked(t *testing.T) {
	t.Parallel()
	srv := gitserver.New(t, gitserver.Token(cloneToken))
	url, sha := srv.AddRepo(t, "acme/app", map[string]string{"narwhal.yml": "image: busybox\nsteps:\n  - name: leak\n    commands: [x]\n"})
	logs := &testenv.Buffer{}
	g := gitRigWith(t, GitCheckout{CAFile: srv.CAFile()}, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	g.exec.Script("leak", fake.Outcome{Output: fake.Lines("token is "+cloneToken, "auth "+workspace.BasicCredential(cloneToken))})
	job := testJob("private", 1)
	job.CloneURL, job.SHA, job.CloneToken = url, sha, cloneToken
	if ok, reason, err := g.r.Run(t.Context(), job); !ok || err != nil {
		t.Fatal(reason, err)
	}
	if final := g.out.final(t, "private"); final.Status != ci.StatusSuccess {
		t.Fatalf("final: %+v", final)
	}
	log, _ := g.readLog(t, "private")
	if strings.Contains(log, cloneToken) || strings.Count(log, logsink.Mask) != 2 {
		t.Errorf("log not masked:\n%s", log)
	}
	if err := g.r.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if text := logs.String(); strings.Contains(text, cloneToken) || !strings.Contains(text, "private") {
		t.Errorf("runner's own log holds the token, or is not the job's:\n%s", text)
	}
	for _, c := range g.exec.Calls() {
		for k, v := range c.Step.Env {
			if strings.Contains(v, cloneToken) {
				t.Errorf("step env %s holds the clone token", k)
			}
		}
	}
}

// TestPrivateCloneRefused: a token the server refuses, and none at all, end
// the job in error with the reasons for people, the token in no log.
func TestPrivateCloneRefused(t *testing.T) {
	t.Parallel()
	srv := gitserver.New(t, gitserver.Token(cloneToken))
	url, sha := srv.AddRepo(t, "acme/app", map[string]string{"narwhal.yml": "steps: []\n"})
	logs := &testenv.Buffer{}
	g := gitRigWith(t, GitCheckout{CAFile: srv.CAFile()}, slog.New(slog.NewTextHandler(logs, nil)))
	for id, tc := range map[string]struct{ token, reason string }{
		"wrong": {"ghs_wrongToken", workspace.ReasonTokenRejected},
		"none":  {"", workspace.ReasonAuthRequired},
	} {
		job := testJob(id, 1)
		job.CloneURL, job.SHA, job.CloneToken = url, sha, tc.token
		if ok, reason, err := g.r.Run(t.Context(), job); !ok || err != nil {
			t.Fatal(reason, err)
		}
		final := g.out.final(t, id)
		if final.Status != ci.StatusError || !strings.HasPrefix(final.Error, tc.reason) {
			t.Errorf("%s: final %+v, want error %q", id, final, tc.reason)
		}
		log, _ := g.readLog(t, id)
		if !strings.Contains(log, "narwhal | "+tc.reason) || tc.token != "" && strings.Contains(log, tc.token) {
			t.Errorf("%s: log:\n%s", id, log)
		}
	}
	if err := g.r.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if text := logs.String(); strings.Contains(text, "ghs_wrongToken") || !strings.Contains(text, workspace.ReasonTokenRejected) {
		t.Errorf("runner's own log holds the token, or not the reason:\n%s", text)
	}
}
