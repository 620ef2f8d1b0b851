package github

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	gh "github.com/google/go-github/v57/github"
)

// Commit describes the commit a synthetic delivery names. `narwhal trigger`,
// the tests and the benchmarks build GitHub-shaped payloads from it.
type Commit struct {
	Repo     string // full name, "owner/name"
	CloneURL string // https, file:// or a path
	SHA      string
	Branch   string // the pushed branch, or the pull request's head branch
	Message  string
	Author   string // the author's name
	Email    string
	Time     time.Time // the commit time; zero means now
}

// PushPayload returns the JSON of a push of c.SHA to refs/heads/c.Branch, with
// the fields GitHub sends that ParseEvent reads.
func PushPayload(c Commit) ([]byte, error) {
	author := &gh.CommitAuthor{Name: gh.String(c.Author), Email: gh.String(c.Email)}
	ev := gh.PushEvent{
		Ref:     gh.String("refs/heads/" + c.Branch),
		Before:  gh.String(zeroSHA),
		After:   gh.String(c.SHA),
		Created: gh.Bool(false), Deleted: gh.Bool(false), Forced: gh.Bool(false),
		Repo: &gh.PushEventRepository{
			Name: gh.String(repoName(c.Repo)), FullName: gh.String(c.Repo),
			Owner:    &gh.User{Login: gh.String(repoOwner(c.Repo)), Name: gh.String(repoOwner(c.Repo))},
			CloneURL: gh.String(c.CloneURL), DefaultBranch: gh.String(c.Branch),
		},
		HeadCommit: &gh.HeadCommit{
			ID: gh.String(c.SHA), Message: gh.String(c.Message),
			Timestamp: &gh.Timestamp{Time: commitTime(c)}, Author: author, Committer: author,
		},
		Pusher: &gh.CommitAuthor{Name: gh.String(c.Author), Email: gh.String(c.Email)},
		Sender: &gh.User{Login: gh.String(c.Author)},
	}
	ev.Commits = []*gh.HeadCommit{ev.HeadCommit}
	return marshal("push", ev)
}

// PullRequestPayload returns the JSON of pull request number, opened from
// c.Branch into base in the same repository (not a fork), whose head is c.SHA
// and whose title is the first line of c.Message.
func PullRequestPayload(c Commit, number int, base string) ([]byte, error) {
	repo := &gh.Repository{
		Name: gh.String(repoName(c.Repo)), FullName: gh.String(c.Repo),
		Owner:    &gh.User{Login: gh.String(repoOwner(c.Repo))},
		CloneURL: gh.String(c.CloneURL), DefaultBranch: gh.String(base),
	}
	user := &gh.User{Login: gh.String(c.Author)}
	title, _, _ := strings.Cut(c.Message, "\n")
	ev := gh.PullRequestEvent{
		Action: gh.String("opened"), Number: gh.Int(number),
		PullRequest: &gh.PullRequest{
			Number: gh.Int(number), State: gh.String("open"), Title: gh.String(title),
			Body: gh.String(c.Message), User: user,
			Head: &gh.PullRequestBranch{Ref: gh.String(c.Branch), SHA: gh.String(c.SHA), Repo: repo, User: user},
			Base: &gh.PullRequestBranch{Ref: gh.String(base), Repo: repo, User: repo.Owner},
		},
		Repo: repo, Sender: user,
	}
	return marshal("pull_request", ev)
}

// PingPayload returns the JSON of the ping GitHub sends when a hook is created.
func PingPayload(repo string, hookID int64) ([]byte, error) {
	ev := gh.PingEvent{
		Zen: gh.String("Keep it logically awesome."), HookID: gh.Int64(hookID),
		Hook: &gh.Hook{ID: gh.Int64(hookID), Type: gh.String("Repository"), Active: gh.Bool(true),
			Events: []string{"push", "pull_request"}},
		Repo: &gh.Repository{FullName: gh.String(repo), Name: gh.String(repoName(repo))},
	}
	return marshal("ping", ev)
}

func marshal(event string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s payload: %w", event, err)
	}
	return b, nil
}

func repoOwner(full string) string { owner, _, _ := strings.Cut(full, "/"); return owner }

func repoName(full string) string { return full[strings.LastIndex(full, "/")+1:] }

func commitTime(c Commit) time.Time {
	if c.Time.IsZero() {
		return time.Now().UTC().Truncate(time.Second)
	}
	return c.Time
}
