package pipeline

import (
	"fmt"
	"sort"

	"gopkg.in/yaml.v3"
)

// maxSuggestDistance is how far (in edits) a misspelling may be from the
// word suggested for it.
const maxSuggestDistance = 2

// maxSuggestLen bounds the words suggestions are looked for, which keeps the
// quadratic distance cheap on hostile input.
const maxSuggestLen = 64

// unknownKey reports key k, not one of known, in the place named by where
// ("in step \"build\""), suggesting the closest known key.
func (p *parser) unknownKey(k *yaml.Node, where string, known []string) {
	msg := fmt.Sprintf("unknown key %q", k.Value)
	if where != "" {
		msg += " " + where
	}
	p.errorf(k, "%s%s", msg, didYouMean(k.Value, known))
}

// didYouMean returns ` (did you mean "x"?)` for the candidate closest to
// word, or "" when none is close enough. A candidate must be within
// maxSuggestDistance edits and closer than the length of word (so that "on"
// does not suggest "env"); ties go to the earlier candidate.
func didYouMean(word string, candidates []string) string {
	best, bestDist := "", maxSuggestDistance+1
	if len(word) > maxSuggestLen {
		return ""
	}
	for _, c := range candidates {
		if abs(len(c)-len(word)) > maxSuggestDistance {
			continue
		}
		if d := editDistance(word, c); d < bestDist && d < len(word) {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// keysOf returns the keys of m, sorted.
func keysOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
