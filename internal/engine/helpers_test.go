package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor/fake"
	"github.com/narwhal-ci/narwhal/internal/pipeline"
)

// pipe builds a pipeline the way Parse leaves it: a step without DependsOn
// depends on the previous one (use an empty non-nil list for none), and the
// image is filled in.
func pipe(steps ...pipeline.Step) *pipeline.Pipeline {
	p := &pipeline.Pipeline{Image: "img", Steps: steps}
	for i := range p.Steps {
		s := &p.Steps[i]
		if s.DependsOn == nil && i > 0 {
			s.DependsOn = []string{p.Steps[i-1].Name}
		}
		if s.Image == "" {
			s.Image = p.Image
		}
	}
	return p
}

// step is a step with a command.
func step(name string, deps ...string) pipeline.Step {
	s := pipeline.Step{Name: name, Commands: []string{"true"}}
	if deps != nil {
		s.DependsOn = deps
	}
	return s
}

var none = []string{}

// recorder is an Observer keeping what it saw.
type recorder struct {
	mu     sync.Mutex
	events []string
	logs   map[string][]string
	report *Report
	onDone func(Report)
}

func (r *recorder) StepStarted(step string, _ time.Time) { r.add("start " + step) }

func (r *recorder) Log(step string, line []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.logs == nil {
		r.logs = map[string][]string{}
	}
	r.logs[step] = append(r.logs[step], string(line))
}

func (r *recorder) StepFinished(step string, res StepResult) {
	r.add(fmt.Sprintf("finish %s %s", step, res.Status))
}

func (r *recorder) JobFinished(rep Report) {
	r.add("job " + string(rep.Status))
	if r.onDone != nil {
		r.onDone(rep)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.report = &rep
}

func (r *recorder) add(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) log(step string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.logs[step])
}

// runJob runs p on a fresh engine around x and returns the report.
func runJob(t *testing.T, ctx context.Context, x *fake.Executor, job Job, obs Observer) Report {
	t.Helper()
	if job.ID == "" {
		job.ID = "job1"
	}
	if job.Branch == "" {
		job.Branch, job.Event = "main", "push"
	}
	e := &Engine{Exec: x}
	rep, err := e.Run(ctx, job, obs)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}

// wantStatuses checks the job status and each step's status, as
// "name=status" in file order.
func wantStatuses(t *testing.T, rep Report, job ci.Status, steps string) {
	t.Helper()
	var got []string
	for _, s := range rep.Steps {
		got = append(got, s.Name+"="+string(s.Status))
	}
	if rep.Status != job || strings.Join(got, " ") != steps {
		t.Fatalf("job %s %v (error %q), want %s [%s]", rep.Status, got, rep.Error, job, steps)
	}
}

func wantOps(t *testing.T, x *fake.Executor, want ...string) {
	t.Helper()
	if got := x.Ops("job1"); !slices.Equal(got, want) {
		t.Fatalf("executor calls %v, want %v", got, want)
	}
}

// meet returns a hook at which pairs of steps wait for each other: it
// returns only while another step is in the hook too (or ctx ended).
func meet() func(context.Context) {
	pair := make(chan struct{})
	return func(ctx context.Context) {
		select {
		case pair <- struct{}{}:
		case <-pair:
		case <-ctx.Done():
		}
	}
}
