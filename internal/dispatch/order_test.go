package dispatch

import (
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// TestStatusOrderSkipsWhatIsBehind: a report behind the last one of its
// attempt is skipped (assigned after running), a later attempt starts over,
// and a final report forgets the job.
func TestStatusOrderSkipsWhatIsBehind(t *testing.T) {
	t.Parallel()
	var o statusOrder
	steps := []struct {
		status  ci.Status
		attempt int
		skipped bool
	}{
		{ci.StatusQueued, 1, false},
		{ci.StatusRunning, 1, false},
		{ci.StatusAssigned, 1, true}, // HandleJob's report, late
		{ci.StatusRunning, 1, false}, // the same state again goes out
		{ci.StatusQueued, 2, false},  // requeued after a lost runner
		{ci.StatusRunning, 1, true},  // a report of the old attempt
		{ci.StatusSuccess, 2, false},
	}
	for i, st := range steps {
		s := o.lock("j")
		got := s.behind(ci.Job{ID: "j", Status: st.status, Attempt: st.attempt})
		s.mu.Unlock()
		if got != st.skipped {
			t.Errorf("step %d (%s, attempt %d): skipped %v, want %v", i, st.status, st.attempt, got, st.skipped)
		}
	}
	o.forget("j")
	if s := o.lock("j"); s.behind(ci.Job{ID: "j", Status: ci.StatusQueued, Attempt: 1}) {
		t.Error("a forgotten job's first report was skipped")
	}
}
