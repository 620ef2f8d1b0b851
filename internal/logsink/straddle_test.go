package logsink

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// TestSecretAcrossLineSplit: a secret in a line longer than MaxLine is masked
// wherever it lies across a split (every offset around the first and second
// split), however the line is cut into writes. The delivered chunks, joined,
// are the line with the secret masked and nothing of it left.
func TestSecretAcrossLineSplit(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-v4lue-of-24-bytes"
	masks := regexp.MustCompile(`(` + regexp.QuoteMeta(Mask) + `)+`)
	writes := map[string]func(string) []string{
		"one write":        func(s string) []string { return []string{s} },
		"4000-byte writes": func(s string) []string { return cut(s, 4000) },
		"split in the secret": func(s string) []string {
			i := strings.Index(s, secret) + len(secret)/2
			return []string{s[:i], s[i:]}
		},
		"bytes near the split": func(s string) []string {
			parts := []string{s[:MaxLine-30]}
			parts = append(parts, cut(s[MaxLine-30:MaxLine+30], 1)...)
			return append(parts, s[MaxLine+30:])
		},
	}
	for _, split := range []int{MaxLine, 2 * MaxLine} {
		for start := split - len(secret); start <= split+1; start++ {
			line := strings.Repeat("x", start) + secret + strings.Repeat("y", 2*MaxLine+100-start)
			want := strings.Replace(line, secret, Mask, 1)
			for name, parts := range writes {
				var c collector
				s := New(0, []string{secret, "other"}, c.deliver)
				w := s.Writer("s")
				for _, p := range parts(line + "\n") {
					w.Write([]byte(p))
				}
				w.Close()
				var joined strings.Builder
				for _, l := range c.take() {
					joined.WriteString(strings.TrimPrefix(l, "s: "))
				}
				got := masks.ReplaceAllString(joined.String(), Mask)
				if got != want {
					i := strings.Index(got, "*")
					t.Fatalf("secret at %d (split at %d), %s: output around the secret %q, want %q",
						start, split, name, excerpt(got, i), excerpt(want, strings.Index(want, "*")))
				}
			}
		}
	}
}

// cut splits s into pieces of n bytes.
func cut(s string, n int) []string {
	var parts []string
	for len(s) > n {
		parts, s = append(parts, s[:n]), s[n:]
	}
	return append(parts, s)
}

// excerpt is s around i, for messages.
func excerpt(s string, i int) string {
	if i < 0 {
		return fmt.Sprintf("(no mask in %d bytes) %q…", len(s), s[:min(len(s), 40)])
	}
	return s[max(0, i-30):min(len(s), i+40)]
}
