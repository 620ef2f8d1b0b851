package pipeline

import (
	"os"
	"strings"
	"testing"
)

// TestDocExamples parses every complete example (a yaml block with a
// top-level steps key) of docs/narwhal-yml.md, so the reference cannot drift
// from the parser.
func TestDocExamples(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/narwhal-yml.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(doc), "```yaml\n")[1:]
	n := 0
	for i, b := range blocks {
		b, _, _ = strings.Cut(b, "```")
		if !strings.HasPrefix(b, "steps:") && !strings.Contains(b, "\nsteps:") {
			continue
		}
		n++
		if _, err := Parse("example", []byte(b)); err != nil {
			t.Errorf("example %d does not parse:\n%s\n%v", i+1, b, err)
		}
	}
	if n < 5 {
		t.Errorf("found %d complete examples, want at least 5", n)
	}
}
