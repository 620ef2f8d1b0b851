package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

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
	}
	if failed {
		return exitError(1)
	}
	return nil
}

// flagError turns a flag parse error into the exit status the usage implies:
// -h is success, anything else a usage error (2).
func flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return exitError(2)
}
