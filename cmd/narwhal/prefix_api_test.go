package main

import (
	"strings"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// TestShortIDsResolve: every command that takes a job ID takes a unique
// prefix of at least six characters, such as the 10 characters the demo
// prints; an ambiguous, unknown or too short one is a clear error.
func TestShortIDsResolve(t *testing.T) {
	t.Parallel()
	r := newAPIRig(t)
	for _, id := range []string{"3f2a9c41d0e8b7a6f5e4", "3f2a9c77aa11bb22cc33", "9e8d7c6b5a4f3e2d1c0b"} {
		r.job(t, 0, func(j *ci.Job) { j.ID = id; j.SHA = strings.Repeat("a", 40) + id[:0] })
	}
	for _, args := range [][]string{{"3f2a9c41d0"}, {"3f2a9c41"}, {"3f2a9c41d0e8b7a6f5e4"}} {
		out, _, err := r.cli(t, runJob, args...)
		if err != nil || !strings.Contains(out, "3f2a9c41d0e8b7a6f5e4") {
			t.Errorf("job %s: %v\n%s", args[0], err, out)
		}
	}
	out, _, err := r.cli(t, runJob, "acme/app#2") // the second created
	if err != nil || !strings.Contains(out, "3f2a9c77aa11bb22cc33") || !strings.Contains(out, "acme/app #2") {
		t.Errorf("job acme/app#2: %v\n%s", err, out)
	}
	if _, _, err := r.cli(t, runJob, "acme/app#9"); err == nil || !strings.Contains(err.Error(), "acme/app has no job #9") {
		t.Errorf("job acme/app#9: %v", err)
	}
	out, _, err = r.cli(t, runCancel, "9e8d7c")
	if err != nil || !strings.Contains(out, "job 9e8d7c6b5a4f3e2d1c0b is cancelled") {
		t.Errorf("cancel 9e8d7c: %v\n%s", err, out)
	}
	for arg, want := range map[string]string{
		"3f2a9c":     "3f2a9c is ambiguous: it starts 3f2a9c",
		"3f2a9":      "a short ID needs at least 6 characters",
		"000000":     "no job ID starts with 000000",
		"../etc":     `"../etc" is not a job ID`,
		"3f2a9c41d1": "no job ID starts with 3f2a9c41d1",
	} {
		if _, _, err := r.cli(t, runLogs, arg); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("logs %s: error %v, want %q", arg, err, want)
		}
	}
}
