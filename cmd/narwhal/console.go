package main

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/narwhal-ci/narwhal/internal/engine"
	"github.com/narwhal-ci/narwhal/internal/pipeline"
)

// console is the engine.Observer of `narwhal exec`: it prints each log line
// prefixed by its step (coloured on a terminal) and the summary table. The
// engine serialises Observer calls, so it needs no lock.
type console struct {
	w      io.Writer
	colour bool
	width  int               // of the widest step name, to align prefixes
	hue    map[string]string // step → ANSI colour
}

var _ engine.Observer = (*console)(nil)

var palette = []string{"36", "33", "35", "32", "34", "96", "93", "95"}

func newConsole(w io.Writer, p *pipeline.Pipeline) *console {
	c := &console{w: w, colour: isTerminal(w), hue: map[string]string{}}
	for i, s := range p.Steps {
		c.width = max(c.width, len(s.Name))
		c.hue[s.Name] = palette[i%len(palette)]
	}
	return c
}

func (c *console) StepStarted(string, time.Time) {}

func (c *console) Log(step string, line []byte) {
	if c.colour {
		fmt.Fprintf(c.w, "\x1b[%sm%-*s |\x1b[0m %s\n", c.hue[step], c.width, step, line)
		return
	}
	fmt.Fprintf(c.w, "%-*s | %s\n", c.width, step, line)
}

func (c *console) StepFinished(string, engine.StepResult) {}

func (c *console) JobFinished(engine.Report) {}

// summary prints one row per step and the job's outcome.
func (c *console) summary(r engine.Report) {
	fmt.Fprintln(c.w)
	tw := tabwriter.NewWriter(c.w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tSTATUS\tEXIT\tDURATION\tNOTE")
	for _, s := range r.Steps {
		exit := "-"
		if s.Status == engine.StepSuccess || s.Status == engine.StepFailure {
			exit = fmt.Sprint(s.ExitCode)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Name, c.paint(string(s.Status)), exit, s.Duration.Round(time.Millisecond), note(s))
	}
	tw.Flush()
	fmt.Fprintf(c.w, "\npipeline %s in %s", c.paint(string(r.Status)), r.Duration.Round(time.Millisecond))
	if r.Error != "" {
		fmt.Fprintf(c.w, ": %s", r.Error)
	}
	fmt.Fprintln(c.w)
}

func note(s engine.StepResult) string {
	switch {
	case s.AllowedFailure:
		return "failure allowed"
	case s.Reason != "":
		return s.Reason
	case s.Error != "":
		return s.Error
	case s.Attempts > 1:
		return fmt.Sprintf("%d attempts", s.Attempts)
	}
	return ""
}

// paint colours a status word on a terminal.
func (c *console) paint(status string) string {
	if !c.colour {
		return status
	}
	code := map[string]string{"success": "32", "failure": "31", "error": "31", "cancelled": "33", "skipped": "90"}[status]
	if code == "" {
		return status
	}
	return "\x1b[" + code + "m" + status + "\x1b[0m"
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
