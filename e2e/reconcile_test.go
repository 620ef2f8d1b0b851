package e2e

import (
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// Issue 10, case 1: runnerd killed with SIGKILL mid-job and brought back
// with the same ID and configuration well inside the lease (as systemd's
// Restart= does) registers with a new boot ID and holds none of the old
// process's jobs. The job must not sit in running on attempt 1 until its
// timeout: it is requeued and finishes as attempt 2. The runner is never
// silent for long enough to count as lost (heartbeats every 500ms, the
// default 45s lease), so only reconciliation can requeue it.
func TestRestartedRunnerJobRequeued(t *testing.T) {
	t.Parallel()
	grace := time.Second
	s := newStack(t, stackOpts{grace: grace, monitorEvery: 300 * time.Millisecond})
	a := s.runner(runnerOpts{id: "a", executor: "host", heartbeat: 500 * time.Millisecond})
	// Attempt 1 outlasts the test; attempt 2 ends at once.
	dir, sha := gitRepo(t, "image: none\nsteps:\n  - name: work\n    commands:\n"+
		"      - 'if [ \"$CI_JOB_ATTEMPT\" = 1 ]; then sleep 90; fi'\n")
	job := s.submit(localJob("file://"+dir, sha))
	s.waitJob(job.ID, 30*time.Second, "running past the grace", func(j ci.Job) bool {
		return j.Status == ci.StatusRunning && len(j.Steps) > 0 && time.Since(j.UpdatedAt) > 2*grace
	})
	a.Kill9()
	a.Restart()
	j := s.waitStatus(job.ID, ci.StatusSuccess, 60*time.Second)
	if j.Attempt != 2 || j.RunnerID != a.id {
		t.Fatalf("job finished on %s attempt %d, want %s attempt 2", j.RunnerID, j.Attempt, a.id)
	}
	if r, err := s.store.GetRunner(t.Context(), a.id); err != nil || r.State != ci.RunnerActive {
		t.Fatalf("runner %+v (%v), want active: back inside the lease", r, err)
	}
	if evs := s.jobEvents(job.ID, ci.StatusSuccess); len(evs) != 1 || evs[0].Attempt != 2 {
		t.Fatalf("success reports %+v, want one of attempt 2", evs)
	}
}
