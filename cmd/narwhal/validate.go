package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/narwhal-ci/narwhal/internal/pipeline"
)

const validateHelp = `Usage: narwhal validate [file ...]

Checks narwhal.yml files strictly and prints every problem as file:line:column: message.
Exits 1 when a file is invalid. Without a file it checks ./narwhal.yml.

Examples:
  narwhal validate
  narwhal validate ci/narwhal.yml examples/hello/narwhal.yml
`

func runValidate(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, validateHelp) }
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	files := fs.Args()
	if len(files) == 0 {
		files = []string{"narwhal.yml"}
	}
	failed := false
	for _, f := range files {
		p, err := pipeline.ParseFile(f)
		if err != nil {
			failed = true
			fmt.Fprintln(stderr, err)
			continue
		}
		fmt.Fprintf(stdout, "%s: ok (%d steps, %d services)\n", f, len(p.Steps), len(p.Services))
		warnLinks(stderr, f, p)
	}
	if failed {
		return exitError(1)
	}
	return nil
}

// warnLinks prints a warning, without failing, for each cache path of p that
// is or goes through a symbolic link out of the checkout around file: the
// runner would refuse it.
func warnLinks(stderr io.Writer, file string, p *pipeline.Pipeline) {
	warnings, err := pipeline.EscapingLinks(filepath.Dir(file), p)
	if err != nil {
		fmt.Fprintf(stderr, "%s: warning: cannot check cache paths for links: %v\n", file, err)
	}
	for _, w := range warnings {
		fmt.Fprintf(stderr, "%s: warning: %s\n", file, w)
	}
}

// flagError turns a flag parse error into the exit status the usage implies:
// -h is success, anything else a usage error (2).
func flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return exitError(2)
}
