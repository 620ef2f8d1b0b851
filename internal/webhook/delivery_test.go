package webhook

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/store/sqlite"
)

// TestBadDeliveryIDIs400: a delivery ID over 64 characters or not
// GUID-shaped is answered 400 with a JSON error and changes nothing, for a
// new commit and for a replay of a known one.
func TestBadDeliveryIDIs400(t *testing.T) {
	t.Parallel()
	r := newRig(t, sqlite.Memory, nil)
	push := pushBody(t, sha1, "Add CI")
	bad := []string{strings.Repeat("a", 65), "d 1", "../../etc", "x;y", "ü"}
	for _, id := range bad {
		status, body := r.post(t, delivery{event: "push", id: id, body: push})
		if status != http.StatusBadRequest || !strings.Contains(body["error"].(string), "X-GitHub-Delivery") {
			t.Fatalf("delivery %q: %d %v, want 400 naming X-GitHub-Delivery", id, status, body)
		}
	}
	if n := len(r.jobs(t)); n != 0 {
		t.Fatalf("%d jobs stored by refused deliveries", n)
	}
	good := "72d3162e-cc78-11e3-81ab-4c9367dc0958"
	if status, _ := r.post(t, delivery{event: "push", id: good, body: push}); status != http.StatusAccepted {
		t.Fatalf("a GUID delivery: %d, want 202", status)
	}
	jobID := ci.JobID("acme/app", sha1, ci.EventPush, 0)
	before, err := r.store.GetJob(context.Background(), jobID)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range bad {
		if status, _ := r.post(t, delivery{event: "push", id: id, body: push}); status != http.StatusBadRequest {
			t.Fatalf("replay with delivery %q: %d, want 400", id, status)
		}
	}
	after, err := r.store.GetJob(context.Background(), jobID)
	if err != nil {
		t.Fatal(err)
	}
	if after.Version != before.Version || len(after.Deliveries) != 1 {
		t.Fatalf("refused replays changed the job: version %d → %d, deliveries %v", before.Version, after.Version, after.Deliveries)
	}
}
