// Command samcheck is `make sam-local`'s judge (scripts/sam-local.sh):
//
//	samcheck list events              # "<function> <file>" per sample, in invocation order
//	samcheck check events/push.json   # the answer on stdin; exit status 1 when it is wrong
//
// The expectations are internal/samevents'.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/narwhal-ci/narwhal/internal/samevents"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "samcheck:", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: samcheck list DIR | samcheck check FILE < answer")
	}
	switch args[0] {
	case "list":
		samples, err := samevents.Load(args[1])
		if err != nil {
			return err
		}
		for _, s := range samples {
			fmt.Fprintln(stdout, s.Function, s.Path)
		}
		return nil
	case "check":
		return check(args[1], stdin, stdout)
	}
	return fmt.Errorf("unknown verb %q", args[0])
}

func check(path string, stdin io.Reader, stdout io.Writer) error {
	samples, err := samevents.Load(filepath.Dir(path))
	if err != nil {
		return err
	}
	answer, err := io.ReadAll(stdin)
	if err != nil {
		return err
	}
	for _, s := range samples {
		if s.Name == filepath.Base(path) {
			if err := s.Check(answer); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "ok %s (%s)\n", s.Name, s.Function)
			return nil
		}
	}
	return fmt.Errorf("%s is not a sample of %s", path, filepath.Dir(path))
}
