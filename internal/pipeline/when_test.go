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
		if got := tt.when.Match(Build{Branch: tt.branch, Event: tt.event}); got != tt.want {
			t.Errorf("%s: %+v.Match(%q, %q) = %v, want %v", tt.name, tt.when, tt.branch, tt.event, got, tt.want)
		}
	}
}

func TestWhenMatchRefAndPath(t *testing.T) {
	t.Parallel()
	tag := Build{Event: "tag", Ref: "refs/tags/v1.2.0"}
	docs := Build{Event: "push", Ref: "refs/heads/main", Branch: "main", Files: []string{"docs/a/b.md", "README.md"}, FilesKnown: true}
	tests := []struct {
		name string
		when When
		b    Build
		want bool
	}{
		{"tag event", When{Event: []string{"tag"}}, tag, true},
		{"tag ref glob", When{Ref: []string{"refs/tags/v*"}}, tag, true},
		{"ref glob other tag", When{Ref: []string{"refs/tags/release-*"}}, tag, false},
		{"ref ** crosses /", When{Ref: []string{"refs/tags/**"}}, Build{Ref: "refs/tags/a/b"}, true},
		{"ref * does not cross /", When{Ref: []string{"refs/tags/*"}}, Build{Ref: "refs/tags/a/b"}, false},
		{"branch push is no tag", When{Event: []string{"tag"}}, docs, false},
		{"path ** crosses /", When{Path: &PathFilter{Include: []string{"docs/**"}}}, docs, true},
		{"path * stays in one directory", When{Path: &PathFilter{Include: []string{"docs/*"}}}, docs, false},
		{"path other dir", When{Path: &PathFilter{Include: []string{"src/**"}}}, docs, false},
		{"path root file", When{Path: &PathFilter{Include: []string{"*.md"}}}, docs, true},
		{"exclude takes the file out", When{Path: &PathFilter{Include: []string{"**"}, Exclude: []string{"docs/**", "*.md"}}}, docs, false},
		{"exclude only", When{Path: &PathFilter{Exclude: []string{"docs/**"}}}, docs, true},
		{"unknown files match", When{Path: &PathFilter{Include: []string{"src/**"}}}, Build{Event: "push"}, true},
		{"no files changed", When{Path: &PathFilter{Include: []string{"**"}}}, Build{FilesKnown: true}, false},
	}
	for _, tt := range tests {
		if got := tt.when.Match(tt.b); got != tt.want {
			t.Errorf("%s: %+v.Match(%+v) = %v, want %v", tt.name, tt.when, tt.b, got, tt.want)
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
