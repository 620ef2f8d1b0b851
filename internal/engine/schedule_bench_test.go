package engine

import (
	"fmt"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor/fake"
	"github.com/narwhal-ci/narwhal/internal/pipeline"
)

// chain is a pipeline of n no-op steps, each depending on the one before (the
// default of a file that names no depends_on).
func chain(n int) *pipeline.Pipeline {
	steps := make([]pipeline.Step, n)
	for i := range steps {
		steps[i] = step(fmt.Sprintf("step-%04d", i))
	}
	return pipe(steps...)
}

// BenchmarkSchedule runs jobs of 1,000 and 4,000 chained no-op steps on the
// fake executor: the cost is the engine's own bookkeeping.
func BenchmarkSchedule(b *testing.B) {
	for _, n := range []int{1000, 4000} {
		b.Run(fmt.Sprintf("steps=%d", n), func(b *testing.B) {
			p := chain(n)
			for b.Loop() {
				rep, err := (&Engine{Exec: fake.New()}).Run(b.Context(), Job{ID: "job1", Pipeline: p}, nil)
				if err != nil || rep.Status != ci.StatusSuccess {
					b.Fatalf("status %s, err %v", rep.Status, err)
				}
			}
		})
	}
}
