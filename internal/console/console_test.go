package console

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// TestJobSummary: a cancelled job's summary shows "-" for the steps that
// never ran to their end, notes allowed failures and reasons, and the log
// is aligned to the widest step whatever order its pieces come in.
func TestJobSummary(t *testing.T) {
	var out bytes.Buffer
	c := New(&out, []string{"build", "integration"})
	c.Log([]byte("build | compiling\nbui"))
	c.Log([]byte("ld | done\nintegration | start"))
	c.Flush()
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	j := ci.Job{Status: ci.StatusCancelled, StartedAt: t0, FinishedAt: t0.Add(4 * time.Second), Error: "cancelled by a person",
		Steps: []ci.Step{
			{Name: "build", Status: ci.StepSuccess, StartedAt: t0, FinishedAt: t0.Add(time.Second)},
			{Name: "lint", Status: ci.StepFailure, ExitCode: 1, AllowedFailure: true},
			{Name: "integration", Status: ci.StepCancelled, ExitCode: 137, Reason: "the job was cancelled"},
			{Name: "deploy", Status: ci.StepSkipped},
		}}
	c.Summary(JobRows(j), JobOutcome(j))
	want := `build       | compiling
build       | done
integration | start

STEP         STATUS     EXIT  DURATION  NOTE
build        success    0     1s        
lint         failure    1     0s        failure allowed
integration  cancelled  -     0s        the job was cancelled
deploy       skipped    -     0s        

pipeline cancelled in 4s: cancelled by a person
`
	if got := out.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if strings.Contains(out.String(), "\x1b[") {
		t.Error("colour on a buffer")
	}
}
