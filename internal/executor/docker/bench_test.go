package docker

import (
	"context"
	"io"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/executor"
)

// BenchmarkRunTrue measures a whole one-step job: Setup, Run of `true`,
// Teardown; compare with `docker run --rm IMAGE true`.
func BenchmarkRunTrue(b *testing.B) {
	e, img := newTestExecutor(b, Config{})
	ctx := context.Background()
	step := &executor.Step{Name: "true", Image: img, Commands: []string{"true"}}
	ws := b.TempDir()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		job := &executor.Job{ID: "bench-" + randomHex(4), Workspace: ws}
		if err := e.Setup(ctx, job); err != nil {
			b.Fatal(err)
		}
		res, err := e.Run(ctx, job, step, io.Discard)
		if err != nil || res.ExitCode != 0 {
			b.Fatalf("run: %+v, %v", res, err)
		}
		if err := e.Teardown(ctx, job); err != nil {
			b.Fatal(err)
		}
	}
}
