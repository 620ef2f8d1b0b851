package ci

import (
	"errors"
	"strings"
	"testing"
)

func TestMove(t *testing.T) {
	tests := []struct {
		from, to Status
		ok       bool
	}{
		{StatusQueued, StatusAssigned, true},
		{StatusAssigned, StatusRunning, true},
		{StatusRunning, StatusSuccess, true},
		{StatusRunning, StatusFailure, true},
		{StatusRunning, StatusQueued, true}, // requeue: the runner was lost
		{StatusAssigned, StatusQueued, true},
		{StatusQueued, StatusCancelled, true},
		{StatusQueued, StatusSkipped, true},   // its pipeline's when does not match
		{StatusRunning, StatusSkipped, false}, // only before it runs
		{StatusSkipped, StatusQueued, false},
		{StatusQueued, StatusRunning, false}, // must be assigned first
		{StatusQueued, StatusSuccess, false},
		{StatusSuccess, StatusQueued, false}, // final states never move
		{StatusFailure, StatusRunning, false},
		{StatusCancelled, StatusCancelled, false},
		{StatusError, StatusSuccess, false},
	}
	for _, tt := range tests {
		j := Job{ID: "j", Status: tt.from, Attempt: 1, RunnerID: "r1"}
		err := j.Move(tt.to)
		if tt.ok != (err == nil) {
			t.Errorf("%s → %s: err = %v, want ok=%v", tt.from, tt.to, err, tt.ok)
			continue
		}
		if !tt.ok {
			if !errors.Is(err, ErrIllegalTransition) || j.Status != tt.from {
				t.Errorf("%s → %s: err = %v, status %s; want ErrIllegalTransition and no change", tt.from, tt.to, err, j.Status)
			}
			continue
		}
		if j.Status != tt.to {
			t.Errorf("%s → %s: status = %s", tt.from, tt.to, j.Status)
		}
	}
}

func TestRequeueBumpsAttempt(t *testing.T) {
	j := Job{ID: "j", Status: StatusRunning, Attempt: 1, RunnerID: "r1", Published: true}
	if err := j.Move(StatusQueued); err != nil {
		t.Fatal(err)
	}
	if j.Attempt != 2 || j.RunnerID != "" || j.Published {
		t.Fatalf("after requeue: attempt %d runner %q published %v; want 2, \"\", false", j.Attempt, j.RunnerID, j.Published)
	}
}

func TestFinal(t *testing.T) {
	for _, s := range Statuses {
		want := s == StatusSuccess || s == StatusFailure || s == StatusError || s == StatusCancelled || s == StatusSkipped
		if s.Final() != want {
			t.Errorf("%s.Final() = %v", s, s.Final())
		}
		if s.Final() && len(transitions[s]) > 0 {
			t.Errorf("final state %s has transitions", s)
		}
	}
}

func TestJobIDOfTag(t *testing.T) {
	sha := "6f1d0c3b8a2e4f5d9c7b1a0e3d2c4b5a69788796"
	push := Job{Repo: "o/r", SHA: sha, Ref: "refs/heads/main", Event: EventPush}
	if JobIDOf(push) != JobID("o/r", sha, EventPush, 0) {
		t.Error("a push job's ID must stay JobID's")
	}
	pr := Job{Repo: "o/r", SHA: sha, Ref: "refs/pull/3/head", Event: EventPullRequest, PR: 3}
	if JobIDOf(pr) != JobID("o/r", sha, EventPullRequest, 3) {
		t.Error("a pull request job's ID must stay JobID's")
	}
	v1 := Job{Repo: "o/r", SHA: sha, Ref: "refs/tags/v1", Event: EventTag}
	v2 := Job{Repo: "o/r", SHA: sha, Ref: "refs/tags/v2", Event: EventTag}
	ids := map[string]bool{JobIDOf(push): true, JobIDOf(v1): true, JobIDOf(v2): true}
	if len(ids) != 3 || !ValidJobID(JobIDOf(v1)) {
		t.Errorf("a branch job and two tag jobs of one commit must be three jobs: %v", ids)
	}
	if JobIDOf(v1) != JobIDOf(Job{Repo: "O/R", SHA: strings.ToUpper(sha), Ref: "refs/tags/v1", Event: EventTag}) {
		t.Error("a tag job's ID must be deterministic")
	}
}

func TestNewChangesBounds(t *testing.T) {
	if c := NewChanges("b", []string{"a", "b"}, true); !c.Known || len(c.Files) != 2 {
		t.Errorf("small list: %+v", c)
	}
	if c := NewChanges("b", make([]string, MaxChangedFiles+1), true); c.Known || c.Files != nil || c.Base != "b" {
		t.Errorf("too many files must count as unknown with the base kept: %+v", c)
	}
	if c := NewChanges("b", []string{strings.Repeat("x", MaxChangedBytes+1)}, true); c.Known || c.Files != nil {
		t.Errorf("too many bytes must count as unknown: %+v", c)
	}
}

func TestJobIDDeterministic(t *testing.T) {
	a := JobID("Owner/Repo", "ABCDEF", EventPush, 0)
	if a != JobID("owner/repo", "abcdef", EventPush, 0) {
		t.Error("JobID must ignore case of repo and SHA")
	}
	for _, other := range []string{
		JobID("owner/repo", "abcdef", EventPullRequest, 0),
		JobID("owner/repo", "abcdef", EventPullRequest, 7),
		JobID("owner/repo2", "abcdef", EventPush, 0),
		JobID("owner/repo", "abcdeg", EventPush, 0),
	} {
		if other == a {
			t.Errorf("JobID collision: %s", other)
		}
	}
}

// ValidJobID admits at most MaxJobIDLen letters, digits, '.', '_' and '-'
// starting with a letter or digit, and nothing else.
func TestValidJobID(t *testing.T) {
	t.Parallel()
	long := "a" + strings.Repeat("b._-9", (MaxJobIDLen-1)/5) + strings.Repeat("z", (MaxJobIDLen-1)%5)
	for id, want := range map[string]bool{
		long: true, long + "x": false, "0123456789abcdef0123": true, "A": true, "a.b_c-d": true,
		"": false, "..": false, ".a": false, "_a": false, "-a": false, "a/b": false, "a b": false, "é": false, "a\n": false,
	} {
		if got := ValidJobID(id); got != want {
			t.Errorf("ValidJobID(%q) (%d bytes) = %v, want %v", id, len(id), got, want)
		}
	}
	if len(long) != MaxJobIDLen {
		t.Fatalf("the longest ID is %d bytes, want %d", len(long), MaxJobIDLen)
	}
}
