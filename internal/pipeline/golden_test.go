package pipeline

import (
	"encoding/json"
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// TestGolden parses every testdata/*.yml and compares the result with the
// .golden file beside it: the parsed Pipeline as JSON, or for bad_*.yml the
// error text.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := render(t, file, strings.HasPrefix(name, "bad_"))
			testenv.Golden(t, strings.TrimSuffix(file, ".yml")+".golden", got, *update)
		})
	}
}

// render parses file and returns what its golden file should hold, failing
// when a bad_ file parses or a good one does not.
func render(t *testing.T, file string, bad bool) []byte {
	t.Helper()
	p, err := ParseFile(file)
	if bad {
		var errs Errors
		if !errors.As(err, &errs) {
			t.Fatalf("want Errors, got %T %v (pipeline %+v)", err, err, p)
		}
		return []byte(err.Error() + "\n")
	}
	if err != nil {
		t.Fatalf("unexpected error:\n%v", err)
	}
	checkInvariants(t, p)
	out, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}
