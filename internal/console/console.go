// Package console renders a job for a terminal, the same way wherever narwhal
// shows one: `narwhal exec` (from the engine's report) and the demo of
// `narwhal dev` (from the job the REST API returns). Log lines are prefixed by
// their step, aligned to the widest step name and coloured on a terminal; the
// summary is a table with a header, one row per step, then the outcome.
//
// A Console is not safe for concurrent use; its callers serialise (the
// engine does for its Observer, the demo follows one job).
package console

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"
)

// palette colours the step prefixes in turn.
var palette = []string{"36", "33", "35", "32", "34", "96", "93", "95"}

// statusColour colours the status words of the summary.
var statusColour = map[string]string{"success": "32", "failure": "31", "error": "31", "cancelled": "33", "skipped": "90"}

// Console writes one job's log lines and summary to w.
type Console struct {
	w       io.Writer
	colour  bool
	width   int               // of the widest step name, to align prefixes
	hue     map[string]string // step → ANSI colour
	partial []byte            // of Log: the unterminated end of the log so far
}

// New returns a Console for a job with these steps, in pipeline order. It
// colours when w is a terminal (or has the Stat of one) and NO_COLOR is unset.
func New(w io.Writer, steps []string) *Console {
	c := &Console{w: w, colour: isTerminal(w), hue: map[string]string{}}
	for _, s := range steps {
		c.add(s)
	}
	return c
}

// add gives step a colour and widens the prefix for it.
func (c *Console) add(step string) {
	if _, ok := c.hue[step]; ok {
		return
	}
	c.hue[step] = palette[len(c.hue)%len(palette)]
	c.width = max(c.width, len(step))
}

// Line writes one log line of step. A step New was not told of gets a colour
// now (and may widen later prefixes).
func (c *Console) Line(step string, line []byte) {
	c.add(step)
	if c.colour {
		fmt.Fprintf(c.w, "\x1b[%sm%-*s |\x1b[0m %s\n", c.hue[step], c.width, step, line)
		return
	}
	fmt.Fprintf(c.w, "%-*s | %s\n", c.width, step, line)
}

// Row is one step in the summary.
type Row struct {
	Name     string
	Status   string
	Exit     string // the exit code, or "-" for a step that never ran to its end
	Duration time.Duration
	Note     string // "failure allowed", a reason, an error, "3 attempts"
}

// Outcome is how the job ended.
type Outcome struct {
	Status   string
	Duration time.Duration
	Reason   string
}

// Summary writes the step table and the outcome line ("pipeline success in
// 1.2s"), after a blank line.
func (c *Console) Summary(rows []Row, end Outcome) {
	fmt.Fprintln(c.w)
	tw := tabwriter.NewWriter(c.w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tSTATUS\tEXIT\tDURATION\tNOTE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, c.paint(r.Status), r.Exit, r.Duration.Round(time.Millisecond), r.Note)
	}
	tw.Flush()
	fmt.Fprintf(c.w, "\npipeline %s in %s", c.paint(end.Status), end.Duration.Round(time.Millisecond))
	if end.Reason != "" {
		fmt.Fprintf(c.w, ": %s", end.Reason)
	}
	fmt.Fprintln(c.w)
}

// Exit is the EXIT column of a step: its code once it ran to its end
// (success or failure), "-" otherwise (pending, skipped, cancelled before it
// ran, or still running).
func Exit(status string, code int) string {
	if status == "success" || status == "failure" {
		return fmt.Sprint(code)
	}
	return "-"
}

// Note is the NOTE column of a step: why it is as it is, first things first.
func Note(allowedFailure bool, reason, err string, attempts int) string {
	switch {
	case allowedFailure:
		return "failure allowed"
	case reason != "":
		return reason
	case err != "":
		return err
	case attempts > 1:
		return fmt.Sprintf("%d attempts", attempts)
	}
	return ""
}

// paint colours a status word on a terminal.
func (c *Console) paint(status string) string {
	code := statusColour[status]
	if !c.colour || code == "" {
		return status
	}
	return "\x1b[" + code + "m" + status + "\x1b[0m"
}

// isTerminal reports whether w is a character device: an *os.File, or a
// writer in front of one that passes its Stat on (exec's buffered stdout).
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Stat() (os.FileInfo, error) })
	if !ok || os.Getenv("NO_COLOR") != "" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
