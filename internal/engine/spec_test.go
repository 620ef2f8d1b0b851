package engine

import (
	"errors"
	"maps"
	"reflect"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/executor"
	"github.com/narwhal-ci/narwhal/internal/pipeline"
)

func TestStepSpec(t *testing.T) {
	t.Parallel()
	ci := func(step string, extra map[string]string) map[string]string {
		env := map[string]string{"CI": "true", "CI_JOB_ID": "j1", "CI_COMMIT_BRANCH": "main",
			"CI_EVENT": "push", "CI_STEP_NAME": step, "CI_WORKSPACE": "/workspace"}
		maps.Copy(env, extra)
		return env
	}
	tests := []struct {
		name     string
		pipe     pipeline.Pipeline
		step     pipeline.Step
		jobEnv   map[string]string
		secrets  map[string]string
		withheld []string
		want     executor.Step
		wantErr  string
	}{{
		name: "plain",
		pipe: pipeline.Pipeline{Image: "golang:1"},
		step: pipeline.Step{Name: "build", Image: "alpine", Commands: []string{"make"}, WorkingDir: "src", Timeout: time.Minute},
		want: executor.Step{Name: "build", Image: "alpine", Commands: []string{"make"}, WorkingDir: "src",
			Timeout: time.Minute, Env: ci("build", nil)},
	}, {
		name: "image from pipeline",
		pipe: pipeline.Pipeline{Image: "golang:1"},
		step: pipeline.Step{Name: "t"},
		want: executor.Step{Name: "t", Image: "golang:1", Env: ci("t", nil)},
	}, {
		name:    "layers: pipeline < step < job < CI < secrets",
		pipe:    pipeline.Pipeline{Env: map[string]string{"A": "pipe", "B": "pipe", "C": "pipe", "D": "pipe", "E": "pipe"}},
		step:    pipeline.Step{Name: "s", Env: map[string]string{"B": "step", "C": "step", "D": "step", "CI": "step"}, Secrets: []string{"D", "CI_EVENT"}},
		jobEnv:  map[string]string{"C": "job", "CI_JOB_ID": "job", "CI_REPO": "o/r"},
		secrets: map[string]string{"D": "secret", "CI_EVENT": "secret", "OTHER": "x"},
		want: executor.Step{Name: "s", Env: ci("s", map[string]string{"A": "pipe", "B": "step", "C": "job",
			"D": "secret", "E": "pipe", "CI_EVENT": "secret", "CI_REPO": "o/r"})},
	}, {
		name:    "empty secret value is provided",
		step:    pipeline.Step{Name: "s", Secrets: []string{"EMPTY"}},
		secrets: map[string]string{"EMPTY": ""},
		want:    executor.Step{Name: "s", Env: ci("s", map[string]string{"EMPTY": ""})},
	}, {
		name:    "missing secret",
		step:    pipeline.Step{Name: "s", Secrets: []string{"TOKEN"}},
		secrets: map[string]string{"OTHER": "x"},
		wantErr: "secret TOKEN does not exist",
	}, {
		name:     "withheld secret",
		step:     pipeline.Step{Name: "s", Secrets: []string{"TOKEN"}},
		withheld: []string{"TOKEN"},
		wantErr:  "secret TOKEN is not available to pull requests from forks",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := &Job{ID: "j1", Branch: "main", Event: "push", Pipeline: &tt.pipe, Env: tt.jobEnv, Secrets: tt.secrets, Withheld: tt.withheld}
			got, err := StepSpec(job, &tt.step)
			if tt.wantErr != "" {
				var missing *MissingSecretError
				if err == nil || err.Error() != tt.wantErr || !errors.As(err, &missing) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, %v\nwant %+v", got, err, tt.want)
			}
		})
	}
}

func TestStepSpecSharesNothing(t *testing.T) {
	t.Parallel()
	p := &pipeline.Pipeline{Env: map[string]string{"A": "1"}}
	s := &pipeline.Step{Name: "s", Commands: []string{"one"}}
	got, err := StepSpec(&Job{Pipeline: p}, s)
	if err != nil {
		t.Fatal(err)
	}
	got.Env["A"] = "changed"
	got.Commands[0] = "changed"
	if p.Env["A"] != "1" || s.Commands[0] != "one" {
		t.Fatal("StepSpec result aliases its input")
	}
}

func TestFmtDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		10 * time.Minute: "10m", time.Hour: "1h", 90 * time.Minute: "1h30m",
		50 * time.Millisecond: "50ms", 1500 * time.Millisecond: "1.5s", 61 * time.Second: "1m1s",
	} {
		if got := fmtDuration(d); got != want {
			t.Errorf("fmtDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
