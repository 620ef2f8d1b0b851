package pipeline

import (
	"fmt"
	"strings"
	"testing"
)

// TestLimitsAreInclusive parses a pipeline exactly at the limits: 500 steps,
// one of them with a 100-character name.
func TestLimitsAreInclusive(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("image: x\nsteps:\n  - {name: " + strings.Repeat("n", MaxStepName) + ", commands: [x]}\n")
	for i := 1; i < MaxSteps; i++ {
		fmt.Fprintf(&b, "  - {name: s%d, commands: [x]}\n", i)
	}
	p, err := Parse("f.yml", []byte(b.String()))
	if err != nil || len(p.Steps) != MaxSteps {
		t.Fatalf("got %v", err)
	}
}

// TestFortyFiveHugeNamesAreRefused is the case of issue 10: 45 steps of
// 10,000-character names once made a job that lost 6 of them; now the file
// is invalid, one short message per step.
func TestFortyFiveHugeNamesAreRefused(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("image: x\nsteps:\n")
	for i := range 45 {
		fmt.Fprintf(&b, "  - {name: %s%02d, commands: [x]}\n", strings.Repeat("n", 9998), i)
	}
	_, err := Parse("f.yml", []byte(b.String()))
	errs, _ := err.(Errors)
	if len(errs) != 45 || len(err.Error()) > 45*200 || errs[0].Line != 3 || errs[0].Column != 12 {
		t.Fatalf("got %d errors, %d bytes, first %v", len(errs), len(err.Error()), errs[0])
	}
}
