package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/narwhal-ci/narwhal/internal/apiclient"
	"github.com/narwhal-ci/narwhal/internal/ci"

	"github.com/narwhal-ci/narwhal/internal/github"
)

const triggerHelp = `Usage: narwhal trigger --url URL --secret SECRET [flags]

Sends a webhook shaped like GitHub's for one commit, signed with X-Hub-Signature-256,
to a narwhal agent, and prints the answer. With a local repository the commit, branch,
message and author are read with git and the clone URL is file://<absolute path>;
with a repository URL, --sha is required. Exits 1 when the agent does not answer 2xx.

Flags:
  --repo PATH|URL   the repository (default ".")
  --sha SHA         the commit (default the checked-out one)
  --event EVENT     push (default) or pull_request
  --branch BRANCH   the pushed branch, or the pull request's head branch
                    (default the checked-out branch; "main" for a URL)
  --base BRANCH     the pull request's base branch (default main)
  --pr N            the pull request number (default 1)
  --url URL         the agent's webhook endpoint (default $NARWHAL_WEBHOOK_URL)
  --secret SECRET   the webhook secret (default $NARWHAL_WEBHOOK_SECRET)
  --delivery ID     the X-GitHub-Delivery GUID (default a random one); send the same
                    one twice to see a redelivery answered as a duplicate

Examples:
  narwhal trigger --url http://127.0.0.1:8080/webhook --secret narwhal-test-secret
  narwhal trigger --repo ~/src/app --event pull_request --branch feature --pr 7 \
      --url http://127.0.0.1:8080/webhook --secret narwhal-test-secret
  narwhal trigger --repo https://github.com/acme/app.git --sha 6f1d0c3b8a2e4f5d9c7b1a0e3d2c4b5a69788796 \
      --url https://abc123.execute-api.us-east-1.amazonaws.com/webhook --secret "$SECRET"
`

// triggerOpts are the flags of `narwhal trigger`.
type triggerOpts struct {
	repo, sha, event, branch, base string
	pr                             int
	url, secret, delivery          string
}

func runTrigger(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, run, err := parseTrigger(args, stderr)
	if !run {
		return err // nil after -h
	}
	commit, err := resolveCommit(ctx, o)
	if err != nil {
		return err
	}
	body, err := triggerPayload(o, commit)
	if err != nil {
		return err
	}
	return sendWebhook(ctx, o, body, stdout)
}

// parseTrigger parses the flags; run is false when there is nothing to send
// (-h, or a usage error, which err then carries).
func parseTrigger(args []string, stderr io.Writer) (o triggerOpts, run bool, err error) {
	fs := flag.NewFlagSet("trigger", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, triggerHelp) }
	fs.StringVar(&o.repo, "repo", ".", "")
	fs.StringVar(&o.sha, "sha", "", "")
	fs.StringVar(&o.event, "event", "push", "")
	fs.StringVar(&o.branch, "branch", "", "")
	fs.StringVar(&o.base, "base", "main", "")
	fs.IntVar(&o.pr, "pr", 1, "")
	fs.StringVar(&o.url, "url", os.Getenv("NARWHAL_WEBHOOK_URL"), "")
	fs.StringVar(&o.secret, "secret", os.Getenv("NARWHAL_WEBHOOK_SECRET"), "")
	fs.StringVar(&o.delivery, "delivery", "", "")
	if err := fs.Parse(args); err != nil {
		return o, false, flagError(err)
	}
	problem := ""
	switch {
	case fs.NArg() > 0:
		problem = fmt.Sprintf("unexpected argument %q", fs.Arg(0))
	case o.url == "":
		problem = "--url is required (or set NARWHAL_WEBHOOK_URL)"
	case o.secret == "":
		problem = "--secret is required (or set NARWHAL_WEBHOOK_SECRET)"
	case o.event != "push" && o.event != "pull_request":
		problem = fmt.Sprintf("--event %q: want push or pull_request", o.event)
	case o.pr < 1:
		problem = "--pr must be positive"
	}
	if problem != "" {
		fmt.Fprintf(stderr, "narwhal trigger: %s\n\n%s", problem, triggerHelp)
		return o, false, exitError(2)
	}
	return o, true, nil
}

// triggerPayload builds the GitHub payload of o.event for commit.
func triggerPayload(o triggerOpts, commit github.Commit) ([]byte, error) {
	if o.event == "pull_request" {
		return github.PullRequestPayload(commit, o.pr, o.base)
	}
	return github.PushPayload(commit)
}

// sendWebhook posts body to o.url as GitHub would and prints the answer.
func sendWebhook(ctx context.Context, o triggerOpts, body []byte, stdout io.Writer) error {
	ans, err := apiclient.SendWebhook(ctx, apiclient.Webhook{URL: o.url, Event: o.event, Delivery: o.delivery,
		Secret: o.secret, UserAgent: "narwhal-trigger/" + version}, body)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "webhook: %s (delivery %s)\n%s", strings.TrimPrefix(ans.Line, "HTTP/1.1 "), ans.Delivery, describeAnswer(ans.Body))
	if ans.Status/100 != 2 {
		return exitError(1)
	}
	return nil
}

// describeAnswer says in words what the webhook answered (docs/intake.md has
// its bodies) and, for a job, how to follow it; a body of another shape is
// printed as it came.
func describeAnswer(body []byte) string {
	var a struct {
		JobID     string `json:"job_id"`
		Status    string `json:"status"`
		Ignored   string `json:"ignored"`
		Error     string `json:"error"`
		Published bool   `json:"published"`
		Duplicate bool   `json:"duplicate"`
		Pong      bool   `json:"pong"`
	}
	if json.Unmarshal(body, &a) != nil {
		return string(bytes.TrimSpace(body)) + "\n"
	}
	switch {
	case a.JobID != "" && a.Duplicate:
		return fmt.Sprintf("job %s already exists (a redelivery or the same commit again)\nfollow it: narwhal logs -f %s\n", a.JobID, a.JobID)
	case a.JobID != "":
		note := ""
		if !a.Published {
			note = " (not yet published: the intake's sweeper will)"
		}
		return fmt.Sprintf("job %s is %s%s\nfollow it: narwhal logs -f %s\n", a.JobID, a.Status, note, a.JobID)
	case a.Ignored != "":
		return "ignored: " + a.Ignored + "\n"
	case a.Error != "":
		return "error: " + a.Error + "\n"
	case a.Pong:
		return "pong\n"
	}
	return string(bytes.TrimSpace(body)) + "\n"
}

// resolveCommit describes the commit o names: read from a local repository
// with git, or taken from the flags for a repository URL.
func resolveCommit(ctx context.Context, o triggerOpts) (github.Commit, error) {
	if isRepoURL(o.repo) {
		return remoteCommit(o)
	}
	return localCommit(ctx, o)
}

func isRepoURL(repo string) bool {
	return strings.Contains(repo, "://") || strings.HasPrefix(repo, "git@")
}

// remoteCommit describes a commit of a repository known only by its URL.
func remoteCommit(o triggerOpts) (github.Commit, error) {
	if o.sha == "" {
		return github.Commit{}, errors.New("--sha is required with a repository URL")
	}
	if !ci.ValidSHA(o.sha) {
		return github.Commit{}, fmt.Errorf("--sha %q: want the full commit SHA, 40 hex digits", o.sha)
	}
	path := o.repo
	if u, err := url.Parse(o.repo); err == nil && u.Path != "" {
		path = u.Path
	} else if _, after, ok := strings.Cut(o.repo, ":"); ok { // git@host:owner/name.git
		path = after
	}
	parts := strings.Split(strings.Trim(strings.TrimSuffix(path, ".git"), "/"), "/")
	if len(parts) < 2 {
		return github.Commit{}, fmt.Errorf("repository URL %q: want .../owner/name", o.repo)
	}
	return github.Commit{
		Repo: parts[len(parts)-2] + "/" + parts[len(parts)-1], CloneURL: o.repo, SHA: o.sha,
		Branch: cmp.Or(o.branch, "main"), Author: "narwhal", Message: "narwhal trigger",
	}, nil
}

// localCommit reads the commit, branch, message and author from a local
// repository with the git CLI.
func localCommit(ctx context.Context, o triggerOpts) (github.Commit, error) {
	git := gitDir{ctx: ctx, dir: o.repo}
	top, err := git.run("rev-parse", "--show-toplevel")
	if err != nil {
		return github.Commit{}, fmt.Errorf("read repository %s: %w", o.repo, err)
	}
	abs, err := filepath.Abs(top)
	if err != nil {
		return github.Commit{}, fmt.Errorf("repository path: %w", err)
	}
	c := github.Commit{Repo: "local/" + filepath.Base(abs), CloneURL: "file://" + abs, Branch: o.branch}
	if c.SHA, err = git.run("rev-parse", "--verify", cmp.Or(o.sha, "HEAD")+"^{commit}"); err != nil {
		return github.Commit{}, fmt.Errorf("resolve commit: %w", err)
	}
	if c.Branch == "" {
		if c.Branch, err = git.run("symbolic-ref", "--short", "HEAD"); err != nil {
			return github.Commit{}, fmt.Errorf("no branch checked out (detached HEAD?): pass --branch: %w", err)
		}
	}
	info, err := git.run("log", "-1", "--format=%an%x00%ae%x00%B", c.SHA)
	fields := strings.SplitN(info, "\x00", 3)
	if err != nil || len(fields) != 3 {
		return github.Commit{}, fmt.Errorf("read commit %s: %w", c.SHA, cmp.Or(err, errors.New("unexpected git log output")))
	}
	c.Author, c.Email, c.Message = fields[0], fields[1], strings.TrimSpace(fields[2])
	return c, nil
}

// gitDir runs git commands in one repository.
type gitDir struct {
	ctx context.Context
	dir string
}

// run returns the output of git -C dir args..., without its final newline.
func (g gitDir) run(args ...string) (string, error) {
	cmd := exec.CommandContext(g.ctx, "git", append([]string{"-C", g.dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return strings.TrimRight(string(out), "\n"), nil
}
