package main

import (
	"io"
	"time"

	"github.com/narwhal-ci/narwhal/internal/console"
	"github.com/narwhal-ci/narwhal/internal/engine"
	"github.com/narwhal-ci/narwhal/internal/pipeline"
)

// execConsole is the engine.Observer of `narwhal exec`: internal/console
// renders each log line and, at the end, the summary.
type execConsole struct{ c *console.Console }

var _ engine.Observer = execConsole{}

func newConsole(w io.Writer, p *pipeline.Pipeline) execConsole {
	return execConsole{console.New(w, p.Names())}
}

func (execConsole) StepStarted(string, time.Time) {}

func (e execConsole) Log(step string, line []byte) { e.c.Line(step, line) }

func (execConsole) StepFinished(string, engine.StepResult) {}

func (execConsole) JobFinished(engine.Report) {}

// summary prints one row per step and the job's outcome.
func (e execConsole) summary(r engine.Report) {
	rows := make([]console.Row, len(r.Steps))
	for i, s := range r.Steps {
		rows[i] = console.Row{Name: s.Name, Status: string(s.Status), Exit: console.Exit(string(s.Status), s.ExitCode),
			Duration: s.Duration, Note: console.Note(s.AllowedFailure, s.Reason, s.Error, s.Attempts)}
	}
	e.c.Summary(rows, console.Outcome{Status: string(r.Status), Duration: r.Duration, Reason: r.Error})
}
