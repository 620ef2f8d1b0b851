package pipeline

import "testing"

func TestWhenMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		when          When
		branch, event string
		want          bool
	}{
		{"empty matches all", When{}, "anything", "manual", true},
		{"branch exact", When{Branch: []string{"main"}}, "main", "push", true},
		{"branch other", When{Branch: []string{"main"}}, "dev", "push", false},
		{"branch glob", When{Branch: []string{"release/*"}}, "release/1.2", "push", true},
		{"glob does not cross slash", When{Branch: []string{"release/*"}}, "release/1/hotfix", "push", false},
		{"glob star alone", When{Branch: []string{"*"}}, "feature/x", "push", false},
		{"any of several", When{Branch: []string{"main", "dev*"}}, "develop", "push", true},
		{"character class", When{Branch: []string{"v[0-9]"}}, "v7", "push", true},
		{"event match", When{Event: []string{"push", "manual"}}, "x", "manual", true},
		{"event mismatch", When{Event: []string{"push"}}, "main", "pull_request", false},
		{"both must hold", When{Branch: []string{"main"}, Event: []string{"push"}}, "main", "pull_request", false},
		{"both hold", When{Branch: []string{"main"}, Event: []string{"push"}}, "main", "push", true},
		{"status ignored", When{Status: []string{"failure"}}, "main", "push", true},
		{"empty branch never matches a pattern", When{Branch: []string{"main"}}, "", "push", false},
	}
	for _, tt := range tests {
		if got := tt.when.Match(tt.branch, tt.event); got != tt.want {
			t.Errorf("%s: %+v.Match(%q, %q) = %v, want %v", tt.name, tt.when, tt.branch, tt.event, got, tt.want)
		}
	}
}

func TestWhenRunsOn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status     []string
		ok, failed bool // want RunsOn(false), RunsOn(true)
	}{
		{nil, true, false},
		{[]string{"success"}, true, false},
		{[]string{"failure"}, false, true},
		{[]string{"always"}, true, true},
		{[]string{"success", "failure"}, true, true},
		{[]string{"failure", "always"}, true, true},
	}
	for _, tt := range tests {
		w := When{Status: tt.status}
		if got := w.RunsOn(false); got != tt.ok {
			t.Errorf("status %v: RunsOn(false) = %v, want %v", tt.status, got, tt.ok)
		}
		if got := w.RunsOn(true); got != tt.failed {
			t.Errorf("status %v: RunsOn(true) = %v, want %v", tt.status, got, tt.failed)
		}
	}
}
