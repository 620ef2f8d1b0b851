package devstack

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor/fake"
)

// TestHandlerFailureIsLogged: a message that the dispatcher's handlers
// refuse, on the event queue and on the job queue, leaves an error line in the
// log naming the message and the error.
func TestHandlerFailureIsLogged(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Exec = fake.New()
	logs := captureLog(t, &cfg)
	s, _ := startStack(t, cfg)
	ctx := context.Background()
	bad := []ci.Message{
		{Key: "event.job", ID: "bad-event-1", Body: []byte(`{"kind":"job","runner_id":`)},
		{Key: "event.step", ID: "bad-event-2", Body: []byte(`{"kind":"step"}`)},
		{Key: "job", ID: "bad-job-1", Body: []byte(`not json`)},
	}
	for _, m := range bad {
		if err := s.queue.Publish(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, m := range bad {
		for !hasLine(logs.String(), "message handler failed", "message_id="+m.ID, "err=") {
			if time.Now().After(deadline) {
				t.Fatalf("no log line for the failed message %s; log:\n%s", m.ID, logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// hasLine reports whether a line of log holds every part.
func hasLine(log string, parts ...string) bool {
	for line := range strings.Lines(log) {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}
