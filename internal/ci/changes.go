package ci

import "regexp"

// Limits of the changed files a job keeps (Changes.Files), so that one push
// cannot fill the store's item: beyond them the list is dropped and the
// files count as unknown, which the dispatcher resolves with a diff.
const (
	MaxChangedFiles = 1000
	MaxChangedBytes = 64 << 10
)

// Changes are the files a push or pull request changed, as far as the
// webhook told. Files is complete only when Known is true; otherwise whoever
// filters on paths asks for a diff of Base..Head (a push: before..after) or
// Base...Head (a pull request: the merge base of the base branch and the
// head), and when that cannot be had either, path filters match.
type Changes struct {
	Known bool     `json:"known,omitempty"`
	Files []string `json:"files,omitempty"`
	// Base is the commit to diff against: a push's "before" (empty for a new
	// branch or tag), a pull request's base SHA.
	Base string `json:"base,omitempty"`
}

// NewChanges returns the Changes of files against base; known says whether
// files is the whole list. A list over MaxChangedFiles paths or
// MaxChangedBytes bytes is dropped and counts as unknown.
func NewChanges(base string, files []string, known bool) Changes {
	c := Changes{Base: base, Known: known, Files: files}
	size := 0
	for _, f := range files {
		size += len(f)
	}
	if !known || len(files) > MaxChangedFiles || size > MaxChangedBytes {
		c.Known, c.Files = false, nil
	}
	return c
}

// shaPattern is a full commit SHA as GitHub sends it.
var shaPattern = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)

// ValidSHA reports whether s is a full commit SHA: 40 hex digits.
func ValidSHA(s string) bool { return shaPattern.MatchString(s) }
