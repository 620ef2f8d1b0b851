package github

import (
	"slices"
	"strings"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// GitHub's limits of what a push delivery lists: at most this many commits
// and files; a push that reaches either may have left some out.
const (
	pushCommitLimit = 20
	pushFileLimit   = 3000
)

// pushChanges are the files a push changed, from its commits' added,
// modified and removed lists. They are unknown (a diff of before..after
// tells) when GitHub may have truncated the lists, when the push was forced
// (the commits listed are not the whole difference) and when it created the
// branch (there is no before to diff against).
func pushChanges(ev *pushEvent) ci.Changes {
	base := validOr(ev.Before)
	if base == zeroSHA || ev.Created {
		return ci.Changes{}
	}
	commits := ev.Commits
	if ev.Forced || len(commits) == 0 || len(commits) >= pushCommitLimit {
		return ci.NewChanges(base, nil, false)
	}
	var files []string
	for _, c := range commits {
		files = append(append(append(files, c.Added...), c.Modified...), c.Removed...)
	}
	slices.Sort(files)
	files = slices.Compact(files)
	return ci.NewChanges(base, files, len(files) < pushFileLimit)
}

// validOr is sha in lower case when it is a full SHA, "" otherwise.
func validOr(sha string) string {
	if !ci.ValidSHA(sha) {
		return ""
	}
	return strings.ToLower(sha)
}
