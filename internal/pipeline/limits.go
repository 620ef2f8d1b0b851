package pipeline

import (
	"strconv"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Limits of a pipeline beyond MaxSize. A job's record keeps one entry per
// step (its name, status, exit code and times, about 150 bytes besides the
// name), and every runner report rewrites it, so these keep the largest
// pipeline's record, 500 steps of 100-character names, near 125 KB: well
// inside DynamoDB's 400 KB item, with room for the rest of the job. (For
// scale, peers draw similar lines: a GitHub Actions matrix makes at most 256
// jobs, GitLab refuses job names over 255 characters.)
const (
	// MaxSteps is how many steps a pipeline may have.
	MaxSteps = 500
	// MaxStepName is the longest step name, in characters.
	MaxStepName = 100
	// MaxCachePaths is how many paths a cache may save, and
	// MaxRestoreKeys how many fallback prefixes it may try: each is a
	// walk of the workspace or a listing of the store before the step.
	MaxCachePaths  = 32
	MaxRestoreKeys = 16
	// MaxArtifactPaths is how many patterns a step's artifacts may have.
	MaxArtifactPaths = 64
)

// tooManySteps reports a steps list longer than MaxSteps at its first step
// beyond the limit, and whether it did.
func (p *parser) tooManySteps(items []*yaml.Node) bool {
	if len(items) <= MaxSteps {
		return false
	}
	p.errorf(items[MaxSteps], "steps: %d steps; a pipeline may have at most %d (this is step %d)",
		len(items), MaxSteps, MaxSteps+1)
	return true
}

// tooMany reports the items of list key when there are more than limit, at
// the first one beyond it, and whether it did. noun names one item ("path").
func (p *parser) tooMany(items []*yaml.Node, key, noun string, limit int) bool {
	if len(items) <= limit {
		return false
	}
	p.errorf(items[limit], "%s: %d %ss; at most %d are allowed (this is %s %d)",
		key, len(items), noun, limit, noun, limit+1)
	return true
}

// longName reports a step name longer than MaxStepName, and whether it did.
func (p *parser) longName(v *yaml.Node, name string) bool {
	n := utf8.RuneCountInString(name)
	if n <= MaxStepName {
		return false
	}
	p.errorf(v, "name: step name %s is %d characters long; at most %d are allowed", short(name), n, MaxStepName)
	return true
}

// short quotes s for a message, cut to its first 40 characters.
func short(s string) string {
	const keep = 40
	if utf8.RuneCountInString(s) <= keep {
		return strconv.Quote(s)
	}
	r := []rune(s)
	return strconv.Quote(string(r[:keep])) + "…"
}
