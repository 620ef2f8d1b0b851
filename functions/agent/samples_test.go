package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/narwhal-ci/narwhal/internal/github"
)

// update re-signs the samples: go test ./functions/agent -run TestSampleEvents -update
var update = flag.Bool("update", false, "re-sign events/*.json with the test secret after editing their bodies")

var samplesDir = filepath.Join("..", "..", "events")

// TestSampleEvents checks that the events/*.json samples (API Gateway HTTP API
// events wrapping GitHub deliveries) are signed with the test secret and get
// the answers they are meant to show. With -update it re-signs them first.
func TestSampleEvents(t *testing.T) {
	want := map[string]struct {
		status int
		field  string
	}{
		"push.json":         {202, "job_id"},
		"push-tag.json":     {202, "job_id"}, // an annotated tag: after is the tag object
		"pull_request.json": {202, "job_id"},
		"ping.json":         {200, "pong"},
	}
	for name, w := range want {
		path := filepath.Join(samplesDir, name)
		if *update {
			resign(t, path)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var ev struct {
			Headers map[string]string `json:"headers"`
			Body    string            `json:"body"`
		}
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sig := github.Sign([]byte(ev.Body), []byte(testSecret))
		if got := ev.Headers["x-hub-signature-256"]; got != sig {
			t.Fatalf("%s: signature %s, want %s; run this test with -update", name, got, sig)
		}
		if got := ev.Headers["content-length"]; got != strconv.Itoa(len(ev.Body)) {
			t.Fatalf("%s: content-length %s, want %d; run this test with -update", name, got, len(ev.Body))
		}
		status, body := newEdge(t, nil).send(t, json.RawMessage(raw), events.APIGatewayV2HTTPResponse{})
		if status != w.status || body[w.field] == nil {
			t.Fatalf("%s: %d %v, want %d with %s", name, status, body, w.status, w.field)
		}
	}
}

// resign rewrites the x-hub-signature-256 and content-length headers of the
// sample at path to match its body, leaving the rest of the file as it is.
func resign(t *testing.T, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Body string `json:"body"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	sig := github.Sign([]byte(ev.Body), []byte(testSecret))
	raw = sigField.ReplaceAll(raw, []byte(`${1}"`+sig+`"`))
	raw = lengthField.ReplaceAll(raw, []byte(`${1}"`+strconv.Itoa(len(ev.Body))+`"`))
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

var (
	sigField    = regexp.MustCompile(`("x-hub-signature-256":\s*)"[^"]*"`)
	lengthField = regexp.MustCompile(`("content-length":\s*)"[^"]*"`)
)
