// Command samcheck is `make sam-local`'s judge (scripts/sam-local.sh):
//
//	samcheck list events              # "<function> <file>" per sample, in invocation order
//	samcheck check events/push.json   # the answer on stdin; exit status 1 when it is wrong
//	samcheck setenv env.json K=V ...  # env.json with K set to V in every function declaring K
//
// The expectations are internal/samevents'.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/narwhal-ci/narwhal/internal/samevents"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "samcheck:", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) < 2 {
		return fmt.Errorf("usage: samcheck list DIR | samcheck check FILE < answer | samcheck setenv ENV.JSON K=V ...")
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
	case "setenv":
		return setenv(args[1], args[2:], stdout)
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

// setenv prints the sam --env-vars file path with each K=V of sets applied
// to every function that already has K (sam ignores undeclared ones).
func setenv(path string, sets []string, stdout io.Writer) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var fns map[string]map[string]string
	if err := json.Unmarshal(raw, &fns); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, kv := range sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("setenv: %q is not K=V", kv)
		}
		for _, env := range fns {
			if _, declared := env[k]; declared {
				env[k] = v
			}
		}
	}
	out, err := json.MarshalIndent(fns, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", out)
	return err
}
