package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// A step that fills the disk its workspace shares with runnerd's outbox and
// log directory (a 16 MiB tmpfs as work_dir) fails the job, with "no space
// left on device" in the job's error and its log, and the job reaches its
// final state in the store: the outbox and the log directory keep reserved
// space, and the final report is retried until it is written (issue 10,
// case 2). After the job, the workspace is gone and the disk has room again.
func TestFullDiskFailsTheJobAndReportsIt(t *testing.T) {
	t.Parallel()
	work := testenv.Tmpfs(t, "16m")
	s := newStack(t, stackOpts{})
	s.runner(runnerOpts{id: "a", executor: "host", workDir: work})
	dir, sha := gitRepo(t, "image: none\nsteps:\n  - name: fill\n    commands: [\"dd if=/dev/zero of=big bs=64k\"]\n")
	job := s.submit(localJob("file://"+dir, sha))
	j := s.waitJob(job.ID, 60*time.Second, "final", func(j ci.Job) bool { return j.Status.Final() })
	if j.Status != ci.StatusFailure || !strings.Contains(j.Error, "no space left on device") {
		t.Fatalf("job ended %s with error %q, want failure with \"no space left on device\"", j.Status, j.Error)
	}
	log := readJobLog(t, filepath.Join(work, "logs", j.ID))
	if !strings.Contains(strings.ToLower(log), "no space left on device") {
		t.Errorf("job log does not say the disk was full:\n%s", log)
	}
	eventually(t, 20*time.Second, "the workspace removed", func() bool {
		entries, err := os.ReadDir(filepath.Join(work, "jobs"))
		return err == nil && len(entries) == 0
	})
}

// readJobLog concatenates the chunks of a job's log in the fs log store.
func readJobLog(t *testing.T, jobDir string) string {
	t.Helper()
	entries, err := os.ReadDir(jobDir)
	if err != nil {
		t.Fatalf("job log: %v", err)
	}
	var b strings.Builder
	for _, e := range entries {
		if data, err := os.ReadFile(filepath.Join(jobDir, e.Name())); err == nil {
			b.Write(data)
		}
	}
	return b.String()
}
