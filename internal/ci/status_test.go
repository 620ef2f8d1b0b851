package ci

import (
	"errors"
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
		want := s == StatusSuccess || s == StatusFailure || s == StatusError || s == StatusCancelled
		if s.Final() != want {
			t.Errorf("%s.Final() = %v", s, s.Final())
		}
		if s.Final() && len(transitions[s]) > 0 {
			t.Errorf("final state %s has transitions", s)
		}
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
