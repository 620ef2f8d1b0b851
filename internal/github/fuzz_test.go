package github

import (
	"testing"
)

// FuzzParseEvent feeds ParseEvent real-shaped payloads (the events/*.json
// samples) and their mutations: it must never panic, and a job it returns
// must be complete enough to store.
func FuzzParseEvent(f *testing.F) {
	for _, name := range []string{"push", "pull_request", "ping"} {
		event, body := sampleBody(f, name)
		f.Add(event, body)
	}
	f.Add("push", []byte(`{"ref":"refs/tags/v1","after":"abc","deleted":false,"repository":{"full_name":"a/b"},"head_commit":null}`))
	f.Add("pull_request", []byte(`{"action":"opened","number":1,"pull_request":{"head":{"sha":"x","repo":null},"base":{"repo":{"full_name":"a/b"}}}}`))
	f.Add("issues", []byte(`{}`))
	f.Add("push", []byte(`null`))
	f.Fuzz(func(t *testing.T, event string, body []byte) {
		r, err := ParseEvent(event, body)
		if err != nil {
			return
		}
		switch r.Kind {
		case KindJob:
			j := r.Job
			if j.ID == "" || j.Repo == "" || j.SHA == "" || j.Ref == "" || j.Event == "" {
				t.Fatalf("incomplete job %+v", j)
			}
		case KindIgnored:
			if r.Reason == "" {
				t.Fatal("ignored without a reason")
			}
		case KindPing:
		default:
			t.Fatalf("unknown kind %q", r.Kind)
		}
	})
}
