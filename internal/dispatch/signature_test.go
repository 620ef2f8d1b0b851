package dispatch

import (
	"encoding/json"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/runnerkey"
)

// A report counts only when it is signed by the runner it names, under any
// of the fleet keys; everything else is dropped without an error (acked),
// and the job does not move.
func TestEventSignatureRequired(t *testing.T) {
	t.Parallel()
	const newKey = "rig-fleet-key-new-0123456789"
	g := newRig(t, Config{RunnerKeys: []string{newKey, testFleetKey}}, nil)
	g.runner(t, "a", 1, 2)
	j := g.assigned(t, "bbb1", "a", 1)
	body, err := json.Marshal(jobEvent(j, "a", 1, ci.StatusSuccess))
	if err != nil {
		t.Fatal(err)
	}
	sig := func(key, id string, b []byte) map[string]string {
		return map[string]string{runnerkey.Header: runnerkey.Sign(runnerkey.Token(key, id), b)}
	}
	refused := map[string]map[string]string{
		"unsigned":                  nil,
		"signed by runner b":        sig(testFleetKey, "b", body),
		"signed with the fleet key": {runnerkey.Header: runnerkey.Sign(testFleetKey, body)},
		"signature of another body": sig(testFleetKey, "a", []byte(`{}`)),
		"unknown fleet key":         sig("some-other-fleet-key-0123", "a", body),
	}
	for name, h := range refused {
		m := ci.Message{Key: "event.job", ID: "forged", Body: body, Headers: h}
		if err := g.d.HandleEvent(t.Context(), ci.Delivery{Message: m, Attempt: 1}); err != nil {
			t.Errorf("%s: HandleEvent = %v, want nil (dropped)", name, err)
		}
		assertJob(t, g.get(t, j.ID), ci.StatusAssigned, 1, "a")
	}
	// Signed under the older key of a rotation, by the runner that owns the
	// attempt: applied.
	m := ci.Message{Key: "event.job", ID: "real", Body: body, Headers: sig(testFleetKey, "a", body)}
	if err := g.d.HandleEvent(t.Context(), ci.Delivery{Message: m, Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	assertJob(t, g.get(t, j.ID), ci.StatusSuccess, 1, "a")
}
