package github

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	gh "github.com/google/go-github/v57/github"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// Kind says what a delivery asks of narwhal.
type Kind string

// Kinds of Result.
const (
	KindPing    Kind = "ping"    // GitHub checks the hook; answer pong
	KindJob     Kind = "job"     // run a pipeline: Result.Job is set
	KindIgnored Kind = "ignored" // nothing to do: Result.Reason says why
)

// Result is a parsed delivery.
type Result struct {
	Kind Kind
	// Job is the job request for KindJob: identity, source and trigger
	// fields are set (ID from ci.JobID), state fields are left zero.
	Job ci.Job
	// Reason says, for people, why a KindIgnored delivery starts nothing.
	Reason string
}

// ErrMalformed: the body is not JSON, or not the shape of its event type.
var ErrMalformed = errors.New("malformed webhook payload")

// zeroSHA is the "after" of a push that deleted its ref.
const zeroSHA = "0000000000000000000000000000000000000000"

// skipCI matches "[skip ci]" and "[ci skip]" in any case.
var skipCI = regexp.MustCompile(`(?i)\[(skip ci|ci skip)\]`)

// ParseEvent parses the payload of a delivery whose X-GitHub-Event header is
// eventType. Pings give KindPing; pushes to a branch or tag and pull requests
// opened, synchronized or reopened give KindJob; every other event, action or
// filtered commit ([skip ci]) gives KindIgnored with a reason. A body that is
// not valid JSON, or lacks what its event needs (a ref, a SHA, a repository),
// gives an error matching ErrMalformed. Body must be the decoded JSON payload
// (not the form encoding).
func ParseEvent(eventType string, body []byte) (Result, error) {
	if !json.Valid(body) {
		return Result{}, fmt.Errorf("%w: %s body is not valid JSON", ErrMalformed, eventType)
	}
	switch eventType {
	case "ping", "push", "pull_request":
	default:
		return ignored("event %s not handled", eventType), nil
	}
	ev, err := gh.ParseWebHook(eventType, body)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %s: %v", ErrMalformed, eventType, err)
	}
	switch ev := ev.(type) {
	case *gh.PushEvent:
		return parsePush(ev)
	case *gh.PullRequestEvent:
		return parsePullRequest(ev)
	default:
		return Result{Kind: KindPing}, nil
	}
}

func ignored(format string, args ...any) Result {
	return Result{Kind: KindIgnored, Reason: fmt.Sprintf(format, args...)}
}

func parsePush(ev *gh.PushEvent) (Result, error) {
	ref, after, repo := ev.GetRef(), ev.GetAfter(), ev.GetRepo().GetFullName()
	if ref == "" || after == "" || repo == "" {
		return Result{}, fmt.Errorf("%w: push without ref, after or repository", ErrMalformed)
	}
	branch, isBranch := strings.CutPrefix(ref, "refs/heads/")
	_, isTag := strings.CutPrefix(ref, "refs/tags/")
	switch {
	case !isBranch && !isTag:
		return ignored("push to %s ignored", ref), nil
	case ev.GetDeleted() || after == zeroSHA:
		return ignored("%s deleted", refKind(isBranch)), nil
	}
	head := ev.GetHeadCommit()
	if skipCI.MatchString(head.GetMessage()) {
		return ignored("skip ci in commit message"), nil
	}
	if isTag {
		branch, _ = strings.CutPrefix(ev.GetBaseRef(), "refs/heads/")
	}
	job := ci.Job{
		Repo: repo, CloneURL: ev.GetRepo().GetCloneURL(), SHA: after, Ref: ref, Branch: branch,
		Event: ci.EventPush, Author: pushAuthor(ev), Message: head.GetMessage(),
	}
	job.ID = ci.JobID(job.Repo, job.SHA, job.Event, 0)
	return Result{Kind: KindJob, Job: job}, nil
}

func refKind(isBranch bool) string {
	if isBranch {
		return "branch"
	}
	return "tag"
}

// pushAuthor names who made the head commit, falling back to who pushed.
func pushAuthor(ev *gh.PushEvent) string {
	a := ev.GetHeadCommit().GetAuthor()
	for _, s := range []string{a.GetLogin(), a.GetName(), ev.GetSender().GetLogin(), ev.GetPusher().GetName()} {
		if s != "" {
			return s
		}
	}
	return ""
}

var prActions = map[string]bool{"opened": true, "synchronize": true, "reopened": true}

func parsePullRequest(ev *gh.PullRequestEvent) (Result, error) {
	pr := ev.GetPullRequest()
	number := ev.GetNumber()
	if number == 0 {
		number = pr.GetNumber()
	}
	base, head := pr.GetBase(), pr.GetHead()
	repo := base.GetRepo().GetFullName()
	if repo == "" {
		repo = ev.GetRepo().GetFullName()
	}
	if number <= 0 || head.GetSHA() == "" || repo == "" {
		return Result{}, fmt.Errorf("%w: pull_request without number, head SHA or repository", ErrMalformed)
	}
	if action := ev.GetAction(); !prActions[action] {
		return ignored("pull_request action %s ignored", action), nil
	}
	if skipCI.MatchString(pr.GetTitle()) {
		return ignored("skip ci in pull request title"), nil
	}
	cloneURL := base.GetRepo().GetCloneURL()
	if cloneURL == "" {
		cloneURL = ev.GetRepo().GetCloneURL()
	}
	job := ci.Job{
		Repo: repo, CloneURL: cloneURL, SHA: head.GetSHA(),
		Ref: "refs/pull/" + strconv.Itoa(number) + "/head", Branch: base.GetRef(),
		Event: ci.EventPullRequest, PR: number,
		// A head repository that is gone (a deleted fork) counts as a fork.
		Fork:   !strings.EqualFold(head.GetRepo().GetFullName(), repo),
		Author: pr.GetUser().GetLogin(), Message: pr.GetTitle(),
	}
	job.ID = ci.JobID(job.Repo, job.SHA, job.Event, job.PR)
	return Result{Kind: KindJob, Job: job}, nil
}
