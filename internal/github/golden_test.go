package github

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/events")

// golden is what a delivery in testdata/events parses to.
type golden struct {
	Kind   Kind    `json:"kind,omitempty"`
	Reason string  `json:"reason,omitempty"`
	Job    *ci.Job `json:"job,omitempty"`
	Error  string  `json:"error,omitempty"` // "malformed" for ErrMalformed
}

// TestGoldenEvents parses every delivery in testdata/events (GitHub's payload
// shapes: tags annotated and lightweight, a tag deleted, truncated and forced
// pushes, bodies that are not objects, SHAs that are not SHAs) and compares
// the result with its .golden file; -update rewrites them.
func TestGoldenEvents(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "events", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no deliveries in testdata/events (%v)", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testenv.Golden(t, strings.TrimSuffix(file, ".json")+".golden", parseGolden(t, file), *update)
		})
	}
}

// parseGolden parses the delivery in file and encodes what came of it.
func parseGolden(t *testing.T, file string) []byte {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Event string          `json:"event"`
		Body  json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	r, err := ParseEvent(d.Event, d.Body)
	g := golden{Kind: r.Kind, Reason: r.Reason}
	switch {
	case errors.Is(err, ErrMalformed):
		g.Error = "malformed"
	case err != nil:
		t.Fatalf("ParseEvent: %v", err)
	case r.Kind == KindJob:
		g.Job = &r.Job
	}
	out, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}
