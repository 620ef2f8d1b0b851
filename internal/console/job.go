package console

import (
	"bytes"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// JobRows are the summary rows of a job as the API reports it.
func JobRows(j ci.Job) []Row {
	rows := make([]Row, len(j.Steps))
	for i, s := range j.Steps {
		rows[i] = Row{Name: s.Name, Status: string(s.Status), Exit: Exit(string(s.Status), s.ExitCode),
			Duration: took(s.StartedAt, s.FinishedAt), Note: Note(s.AllowedFailure, s.Reason, "", s.Attempts)}
	}
	return rows
}

// JobOutcome is how a final job ended.
func JobOutcome(j ci.Job) Outcome {
	return Outcome{Status: string(j.Status), Duration: took(j.StartedAt, j.FinishedAt), Reason: j.Error}
}

// Log writes the complete lines of a stored job log (lines of
// "<step> | <line>", docs/logs.md) through c, in pieces as they are read:
// an unterminated end is kept until the next piece or Flush. A line without
// the separator is shown under "narwhal".
func (c *Console) Log(data []byte) {
	c.partial = append(c.partial, data...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			return
		}
		c.logLine(c.partial[:i])
		c.partial = c.partial[i+1:]
	}
}

// Flush writes what Log kept of an unterminated last line.
func (c *Console) Flush() {
	if len(c.partial) > 0 {
		c.logLine(c.partial)
		c.partial = nil
	}
}

func (c *Console) logLine(line []byte) {
	step, text, ok := bytes.Cut(line, []byte(" | "))
	if !ok {
		step, text = []byte("narwhal"), line
	}
	c.Line(string(step), text)
}

func took(start, end time.Time) time.Duration {
	if start.IsZero() || end.IsZero() {
		return 0
	}
	return end.Sub(start)
}
