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

// TestDocsListEveryKey checks that docs/narwhal-yml.md names every key the
// parser accepts, as `key` (in a table or the text).
func TestDocsListEveryKey(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/narwhal-yml.md")
	if err != nil {
		t.Fatal(err)
	}
	for place, keys := range map[string][]string{
		"pipeline": pipelineKeys, "step": stepKeys, "service": serviceKeys, "when": whenKeys,
		"when.path": pathKeys, "cache": cacheKeys, "artifacts": artifactKeys,
	} {
		for _, k := range keys {
			if !strings.Contains(string(doc), "`"+k+"`") {
				t.Errorf("the %s key %q is not documented", place, k)
			}
		}
	}
}
