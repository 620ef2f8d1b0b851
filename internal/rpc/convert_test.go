package rpc

import (
	"bytes"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

func TestJobRoundTripsThroughProto(t *testing.T) {
	t.Parallel()
	if got := jobFromPB(jobToPB(fullJob())); !reflect.DeepEqual(got, fullJob()) {
		t.Errorf("round trip = %+v, want %+v", got, fullJob())
	}
}

func TestStateRoundTrips(t *testing.T) {
	t.Parallel()
	for _, s := range []ci.RunnerState{ci.RunnerActive, ci.RunnerDraining, ""} {
		if got := stateFromPB(stateToPB(s)); got != s {
			t.Errorf("%q round trips to %q", s, got)
		}
	}
	if got := stateFromPB(stateToPB(ci.RunnerOffline)); got != "" {
		t.Errorf("offline (not a state a runner reports) became %q", got)
	}
}

func TestDeadlineSecondsRoundsUp(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]int64{
		0: 0, time.Nanosecond: 1, time.Second: 1, 1500 * time.Millisecond: 2, 10 * time.Minute: 600,
	} {
		if got := deadlineSeconds(d); got != want {
			t.Errorf("deadlineSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}

func TestJobValidate(t *testing.T) {
	t.Parallel()
	for name, edit := range map[string]func(*Job){
		"no ID":                func(j *Job) { j.ID = "" },
		"no clone URL":         func(j *Job) { j.CloneURL = "" },
		"no SHA":               func(j *Job) { j.SHA = "" },
		"negative attempt":     func(j *Job) { j.Attempt = -1 },
		"fork with registries": func(j *Job) { j.Fork = true },
		"given and withheld":   func(j *Job) { j.Withheld = append(j.Withheld, "NPM") },
	} {
		j := fullJob()
		edit(&j)
		if err := j.Validate(); !errors.Is(err, ErrInvalidJob) {
			t.Errorf("%s: Validate = %v, want ErrInvalidJob", name, err)
		}
	}
	if err := fullJob().Validate(); err != nil {
		t.Errorf("a full job: %v", err)
	}
}

func TestJobFromCIWithholdsForkSecrets(t *testing.T) {
	t.Parallel()
	cj := ci.Job{ID: "j", Repo: "o/r", CloneURL: "u", SHA: "s", Event: ci.EventPullRequest, PR: 3, Attempt: 1}
	secrets := map[string]Secret{"K": {Value: "v"}, "PR_OK": {Value: "w", AllowPullRequests: true}}
	j := JobFromCI(cj, secrets, "tok")
	if want := map[string]string{"K": "v", "PR_OK": "w"}; !reflect.DeepEqual(j.Secrets, want) || j.Withheld != nil || j.CloneToken != "tok" || j.PR != 3 {
		t.Errorf("non-fork job = %+v", j)
	}
	cj.Fork = true
	j = JobFromCI(cj, secrets, "tok")
	if want := map[string]string{"PR_OK": "w"}; !reflect.DeepEqual(j.Secrets, want) || !reflect.DeepEqual(j.Withheld, []string{"K"}) {
		t.Errorf("fork job carries secrets %v, withheld %v; want only PR_OK, K withheld", j.Secrets, j.Withheld)
	}
	if err := j.Validate(); err != nil {
		t.Errorf("fork job from JobFromCI is invalid: %v", err)
	}
	if j := JobFromCI(cj, map[string]Secret{"K": {Value: "v"}}, ""); j.Secrets != nil {
		t.Errorf("fork job without allowed secrets carries %v", j.Secrets)
	}
}

func TestJobLogValueHidesSecrets(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("run", "job", fullJob())
	out := buf.String()
	for _, leak := range []string{"s3cret", "t0ken", "ghs_clone", "r3gistry", "puller"} {
		if strings.Contains(out, leak) {
			t.Errorf("log shows %q: %s", leak, out)
		}
	}
	if !strings.Contains(out, "job.job_id=job-1") || !strings.Contains(out, "job.secrets=2") {
		t.Errorf("log lacks the job ID or the secret count: %s", out)
	}
}

func TestRetryDelay(t *testing.T) {
	t.Parallel()
	r := Retry{Initial: 100 * time.Millisecond, Max: time.Second}.withDefaults()
	for attempt, base := range map[int]time.Duration{
		1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 30: time.Second,
	} {
		d := r.delay(attempt)
		if lo, hi := base*8/10, base*12/10; d < lo || d > hi {
			t.Errorf("delay(%d) = %v, want %v ±20%%", attempt, d, base)
		}
	}
	if r.Attempts != 5 {
		t.Errorf("default attempts = %d, want 5", r.Attempts)
	}
}
