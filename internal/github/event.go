package github

import (
	"bytes"
	"cmp"
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
// eventType. Pings give KindPing; pushes to a branch (event push) or a tag
// (event tag, on the commit the tag points to) and pull requests opened,
// synchronized or reopened give KindJob; every other event, action or
// filtered commit ([skip ci]) gives KindIgnored with a reason. A body that is
// not a JSON object (null, a list, invalid JSON), or lacks what its event
// needs (a ref, a SHA of 40 hex digits, a repository), gives an error
// matching ErrMalformed. Body must be the decoded JSON payload (not the form
// encoding).
func ParseEvent(eventType string, body []byte) (Result, error) {
	handled := eventType == "ping" || eventType == "push" || eventType == "pull_request"
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	object := len(trimmed) > 0 && trimmed[0] == '{'
	if !handled || !object {
		switch {
		case !json.Valid(body):
			return Result{}, notJSON(eventType)
		case !object:
			return Result{}, fmt.Errorf("%w: %s body is not a JSON object", ErrMalformed, eventType)
		}
		return ignored("event %s not handled", eventType), nil
	}
	switch eventType {
	case "push":
		var ev pushEvent
		if err := decode(eventType, body, &ev); err != nil {
			return Result{}, err
		}
		return parsePush(&ev)
	case "pull_request":
		var ev pullRequestEvent
		if err := decode(eventType, body, &ev); err != nil {
			return Result{}, err
		}
		return parsePullRequest(&ev)
	default:
		var ev gh.PingEvent
		if err := decode(eventType, body, &ev); err != nil {
			return Result{}, err
		}
		return Result{Kind: KindPing}, nil
	}
}

// decode unmarshals the body of an eventType delivery into ev. The decoder
// checks the syntax as it goes: no json.Valid pass first, which cost a
// twentieth of the intake's CPU per webhook (issue 15).
func decode(eventType string, body []byte, ev any) error {
	err := json.Unmarshal(body, ev)
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return notJSON(eventType)
	case err != nil:
		return fmt.Errorf("%w: %s: %v", ErrMalformed, eventType, err)
	}
	return nil
}

func notJSON(eventType string) error {
	return fmt.Errorf("%w: %s body is not valid JSON", ErrMalformed, eventType)
}

func ignored(format string, args ...any) Result {
	return Result{Kind: KindIgnored, Reason: fmt.Sprintf(format, args...)}
}

func parsePush(ev *pushEvent) (Result, error) {
	ref, after, repo := ev.Ref, ev.After, ev.Repo.FullName
	if ref == "" || after == "" || repo == "" {
		return Result{}, fmt.Errorf("%w: push without ref, after or repository", ErrMalformed)
	}
	branch, isBranch := strings.CutPrefix(ref, "refs/heads/")
	_, isTag := strings.CutPrefix(ref, "refs/tags/")
	switch {
	case !isBranch && !isTag:
		return ignored("push to %s ignored", ref), nil
	case ev.Deleted || after == zeroSHA:
		return ignored("%s deleted", refKind(isBranch)), nil
	case !ci.ValidSHA(after):
		return Result{}, fmt.Errorf("%w: push after %q is not 40 hex digits", ErrMalformed, after)
	}
	head := ev.HeadCommit
	if skipCI.MatchString(head.Message) {
		return ignored("skip ci in commit message"), nil
	}
	job := ci.Job{
		Repo: repo, CloneURL: ev.Repo.CloneURL, SHA: strings.ToLower(after), Ref: ref, Branch: branch,
		Event: ci.EventPush, Author: pushAuthor(ev), Message: head.Message, Changes: pushChanges(ev),
	}
	if isTag {
		return tagJob(ev, job)
	}
	job.ID = ci.JobIDOf(job)
	return Result{Kind: KindJob, Job: job}, nil
}

// tagJob turns the job of a tag push into a tag job on the commit the tag
// points to: head_commit.id, which for an annotated tag differs from after
// (the tag object). A tag of something that is not a commit starts nothing.
func tagJob(ev *pushEvent, job ci.Job) (Result, error) {
	commit := ev.HeadCommit.ID
	switch {
	case commit == "":
		return ignored("tag %s points to no commit", job.Ref), nil
	case !ci.ValidSHA(commit):
		return Result{}, fmt.Errorf("%w: tag head_commit.id %q is not 40 hex digits", ErrMalformed, commit)
	}
	job.SHA, job.Event, job.Changes = strings.ToLower(commit), ci.EventTag, ci.Changes{}
	job.Branch, _ = strings.CutPrefix(ev.BaseRef, "refs/heads/")
	job.ID = ci.JobIDOf(job)
	return Result{Kind: KindJob, Job: job}, nil
}

func refKind(isBranch bool) string {
	if isBranch {
		return "branch"
	}
	return "tag"
}

// pushAuthor names who made the head commit, falling back to who pushed.
func pushAuthor(ev *pushEvent) string {
	a := ev.HeadCommit.Author
	for _, s := range []string{a.Login, a.Name, ev.Sender.Login, ev.Pusher.Name} {
		if s != "" {
			return s
		}
	}
	return ""
}

var prActions = map[string]bool{"opened": true, "synchronize": true, "reopened": true}

func parsePullRequest(ev *pullRequestEvent) (Result, error) {
	pr := ev.PullRequest
	number := cmp.Or(ev.Number, pr.Number)
	base, head := pr.Base, pr.Head
	repo := cmp.Or(base.Repo.FullName, ev.Repo.FullName)
	if number <= 0 || head.SHA == "" || repo == "" {
		return Result{}, fmt.Errorf("%w: pull_request without number, head SHA or repository", ErrMalformed)
	}
	if !ci.ValidSHA(head.SHA) {
		return Result{}, fmt.Errorf("%w: pull_request head sha %q is not 40 hex digits", ErrMalformed, head.SHA)
	}
	if action := ev.Action; !prActions[action] {
		return ignored("pull_request action %s ignored", action), nil
	}
	if skipCI.MatchString(pr.Title) {
		return ignored("skip ci in pull request title"), nil
	}
	cloneURL := cmp.Or(base.Repo.CloneURL, ev.Repo.CloneURL)
	job := ci.Job{
		Repo: repo, CloneURL: cloneURL, SHA: strings.ToLower(head.SHA),
		Ref: "refs/pull/" + strconv.Itoa(number) + "/head", Branch: base.Ref,
		Event: ci.EventPullRequest, PR: number,
		// A head repository that is gone (a deleted fork) counts as a fork.
		Fork:   !strings.EqualFold(head.Repo.FullName, repo),
		Author: pr.User.Login, Message: pr.Title,
		// The webhook lists no files of a pull request: a diff tells them.
		Changes: ci.NewChanges(validOr(base.SHA), nil, false),
	}
	job.ID = ci.JobIDOf(job)
	return Result{Kind: KindJob, Job: job}, nil
}
