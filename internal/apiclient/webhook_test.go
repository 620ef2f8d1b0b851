package apiclient

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/github"
)

// TestSendWebhookSignsAsGitHub: the receiver verifies the signature over the
// exact body, sees the event and a GUID delivery, and its answer comes back
// whatever the status.
func TestSendWebhookSignsAsGitHub(t *testing.T) {
	t.Parallel()
	var delivery string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := github.VerifySignature(body, r.Header.Get(github.SignatureHeader), [][]byte{[]byte("s3cret")}); err != nil {
			http.Error(w, `{"error":"bad signature"}`, http.StatusUnauthorized)
			return
		}
		delivery = r.Header.Get("X-GitHub-Delivery")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"job_id":"j1"}`+r.Header.Get("X-GitHub-Event"))
	}))
	defer srv.Close()
	ans, err := SendWebhook(context.Background(), Webhook{URL: srv.URL, Event: "push", Secret: "s3cret"}, []byte(`{"a":1}`))
	if err != nil || ans.Status != http.StatusAccepted || string(ans.Body) != `{"job_id":"j1"}push` {
		t.Fatalf("SendWebhook = %+v, %v", ans, err)
	}
	guid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if delivery != ans.Delivery || !guid.MatchString(delivery) {
		t.Errorf("delivery sent %q, answered %q: want one v4 GUID", delivery, ans.Delivery)
	}
	ans, err = SendWebhook(context.Background(), Webhook{URL: srv.URL, Event: "push", Secret: "wrong"}, []byte(`{}`))
	if err != nil || ans.Status != http.StatusUnauthorized {
		t.Errorf("wrong secret: %+v, %v; want the 401 answer", ans, err)
	}
}
