package ghauth_test

import gh "github.com/google/go-github/v57/github"

func newStatus(state string) *gh.RepoStatus {
	return &gh.RepoStatus{State: gh.String(state), Context: gh.String("narwhal/ci")}
}
