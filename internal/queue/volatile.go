package queue

import "github.com/narwhal-ci/narwhal/internal/ci"

// Volatile is what a queue may offer beside ci.Queue to say that its
// messages live in this process alone (memq). They are gone when the
// process ends, so whoever starts it again publishes every job still queued
// (narwhal dev does at start), and a publish on a context that cannot end
// fails only once the queue is closed. A mark written after the publish, to
// say that such a queue holds a job's message, protects nothing: the intake
// stores the job marked already (intake.Intake).
//
// A wrapper that can fail a publish of its own (a test's flaky queue) must
// not say it is Volatile.
type Volatile interface {
	Volatile() bool
}

// IsVolatile reports whether q says it is Volatile.
func IsVolatile(q ci.Queue) bool {
	v, ok := q.(Volatile)
	return ok && v.Volatile()
}
