package devstack

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/apiclient"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// resumable fails at test unless re-run by hand: build writes a file with a
// value no second run would write again, test reads it.
const resumable = `name: resumable
image: %s
steps:
  - name: build
    commands:
      - mkdir -p out && echo "built $(date +%%s%%N)" > out/artifact.txt
      - cat out/artifact.txt
  - name: test
    depends_on: [build]
    commands:
      - cat out/artifact.txt
      - test "$CI_EVENT" = manual
`

// TestResubmitFromFailedStep runs a pipeline whose test step fails in real
// containers, re-runs it from test, and checks that the re-run did not run
// build again but read the very file build wrote in the first job (restored
// from the snapshot), and succeeded.
func TestResubmitFromFailedStep(t *testing.T) {
	t.Parallel()
	image := testenv.Image(t)
	cfg := testConfig(t)
	cfg.Executor, cfg.RunnerName = ExecDocker, uniqueName(t, "r")
	s, _ := startStack(t, cfg)
	first, err := s.Trigger(context.Background(), newRepo(t, map[string]string{"narwhal.yml": fmt.Sprintf(resumable, image)}))
	if err != nil {
		t.Fatal(err)
	}
	parent := waitJob(t, s, first, time.Minute)
	if parent.Status != ci.StatusFailure || len(parent.Steps) != 2 || parent.Steps[0].Snapshot == "" {
		t.Fatalf("first job %s, steps %+v", parent.Status, parent.Steps)
	}
	built := regexp.MustCompile(`build \| built \d+`).FindString(jobLog(t, s, first))
	c, err := s.Client()
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.ResubmitFrom(context.Background(), first, "test")
	if err != nil || again.Resume == nil || again.Resume.Snapshot != parent.Steps[0].Snapshot {
		t.Fatalf("resubmit from test: %+v, %v", again, err)
	}
	rerun := waitJob(t, s, again.ID, time.Minute)
	log := jobLog(t, s, again.ID)
	if rerun.Status != ci.StatusSuccess || rerun.Steps[0].Status != ci.StepSkipped || rerun.Steps[1].Status != ci.StepSuccess {
		t.Fatalf("re-run %s (%s), steps %+v\n%s", rerun.Status, rerun.Error, rerun.Steps, log)
	}
	if built == "" || !strings.Contains(log, "test | "+strings.TrimPrefix(built, "build | ")) || strings.Contains(log, "build | ") {
		t.Errorf("the re-run does not read what the first build wrote (%q), or ran build again:\n%s", built, log)
	}
	if !strings.Contains(log, "workspace restored from "+parent.Steps[0].Snapshot) {
		t.Errorf("the log does not say where the workspace came from:\n%s", log)
	}
	// From a step without dependencies there is nothing to skip: a whole
	// re-run; from one whose dependency failed there is nothing to start from.
	whole, err := c.ResubmitFrom(context.Background(), first, "build")
	if err != nil || whole.Resume != nil {
		t.Errorf("resubmit from build: %+v, %v; want a whole re-run", whole.Resume, err)
	}
	waitJob(t, s, whole.ID, time.Minute)
	var apiErr *apiclient.Error
	if _, err := c.ResubmitFrom(context.Background(), again.ID, "nope"); !errors.As(err, &apiErr) || apiErr.Status != 409 {
		t.Errorf("resubmit from an unknown step: %v, want 409", err)
	}
}
