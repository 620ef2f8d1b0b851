package dispatch

import (
	"reflect"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// TestSetPlan: the plan lays the steps out in pipeline order with their
// dependencies, keeps what was already reported, and a replay changes
// nothing; a step report later keeps the plan's dependencies.
func TestSetPlan(t *testing.T) {
	j := ci.Job{Steps: []ci.Step{{Name: "build", Status: ci.StepRunning}}}
	plan := []ci.Step{
		{Name: "build", Status: ci.StepPending},
		{Name: "test", Status: ci.StepPending, DependsOn: []string{"build"}},
		{Name: "lint", Status: ci.StepPending, DependsOn: []string{"build"}},
	}
	if !setPlan(&j, plan) {
		t.Fatal("the first plan changed nothing")
	}
	want := []ci.Step{
		{Name: "build", Status: ci.StepRunning},
		{Name: "test", Status: ci.StepPending, DependsOn: []string{"build"}},
		{Name: "lint", Status: ci.StepPending, DependsOn: []string{"build"}},
	}
	if !reflect.DeepEqual(j.Steps, want) {
		t.Fatalf("steps %+v, want %+v", j.Steps, want)
	}
	if setPlan(&j, plan) {
		t.Error("a replayed plan changed the job")
	}
	if err := setStep(&j, ci.Step{Name: "test", Status: ci.StepSuccess}); err != nil {
		t.Fatal(err)
	}
	if got := j.Steps[1]; got.Status != ci.StepSuccess || !reflect.DeepEqual(got.DependsOn, []string{"build"}) {
		t.Errorf("after its report, test is %+v", got)
	}
}

// TestEndPending: a job that ends leaves no step pending.
func TestEndPending(t *testing.T) {
	for status, want := range map[ci.Status]ci.StepStatus{ci.StatusCancelled: ci.StepCancelled, ci.StatusError: ci.StepSkipped} {
		j := ci.Job{Status: status, Steps: []ci.Step{{Name: "a", Status: ci.StepSuccess}, {Name: "b", Status: ci.StepPending}}}
		endPending(&j)
		if j.Steps[0].Status != ci.StepSuccess || j.Steps[1].Status != want {
			t.Errorf("%s job: steps %+v, want b %s", status, j.Steps, want)
		}
	}
}
