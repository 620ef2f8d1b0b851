package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/narwhal-ci/narwhal/internal/apiclient"
)

// apiOpts are the flags every command that talks to the REST API shares.
type apiOpts struct {
	api, token string
}

// addAPIFlags defines --api and --token, defaulting to $NARWHAL_API and
// $NARWHAL_TOKEN.
func addAPIFlags(fs *flag.FlagSet) *apiOpts {
	o := &apiOpts{}
	fs.StringVar(&o.api, "api", os.Getenv("NARWHAL_API"), "")
	fs.StringVar(&o.token, "token", os.Getenv("NARWHAL_TOKEN"), "")
	return o
}

// client returns the API client the flags describe; without an address it
// explains what to set and fails with exit status 2.
func (o *apiOpts) client(cmd string, stderr io.Writer) (*apiclient.Client, error) {
	if o.api == "" {
		fmt.Fprintf(stderr, "narwhal %s: no API address: set NARWHAL_API (narwhal dev prints it: export NARWHAL_API=http://127.0.0.1:8080/api) or pass --api URL\n", cmd)
		return nil, exitError(2)
	}
	c, err := apiclient.New(o.api, o.token, "narwhal-cli/"+version)
	if err != nil {
		fmt.Fprintf(stderr, "narwhal %s: %v\n", cmd, err)
		return nil, exitError(2)
	}
	return c, nil
}

// printJSON writes v as indented JSON, for --json.
func printJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// parseCommand parses flags and positional arguments in any order ("job ID
// --json" as well as "job --json ID") and checks that exactly want
// positionals were given. ok is false when the command must stop: after -h
// (err nil) or a usage error (err is exit status 2, already explained).
func parseCommand(fs *flag.FlagSet, args []string, want int, help string, stderr io.Writer) (pos []string, ok bool, err error) {
	for {
		if err := fs.Parse(args); err != nil {
			return nil, false, flagError(err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != want {
		problem := fmt.Sprintf("want %d argument(s), got %d", want, len(pos))
		if want == 0 {
			problem = fmt.Sprintf("unexpected argument %q", pos[0])
		}
		fmt.Fprintf(stderr, "narwhal %s: %s\n\n%s", fs.Name(), problem, help)
		return nil, false, exitError(2)
	}
	return pos, true, nil
}

// newFlagSet returns a flag set whose usage is help.
func newFlagSet(name, help string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, help) }
	return fs
}

// interrupted turns the end of ctx (Ctrl-C) into exit status 130.
func interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return exitError(130)
	}
	return err
}

// relTime says how long before now t was, for people: "just now", "42s ago",
// "3m ago", "5h ago", "2d ago"; "-" for a zero time.
func relTime(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < 5*time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// stamp is a timestamp with its relative time, "" for a zero time.
func stamp(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	return fmt.Sprintf("%s (%s)", t.UTC().Format("2006-01-02 15:04:05 UTC"), relTime(t, now))
}

// elapsed is the duration from start to end, or to now while it runs: "-" when
// it has not started, "12s", "3m07s", "1h02m".
func elapsed(start, end, now time.Time) string {
	if start.IsZero() {
		return "-"
	}
	if end.IsZero() {
		end = now
	}
	d := end.Sub(start).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// shortSHA is the abbreviated commit SHA.
func shortSHA(sha string) string { return sha[:min(len(sha), 7)] }
