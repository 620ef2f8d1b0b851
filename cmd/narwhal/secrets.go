package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/narwhal-ci/narwhal/internal/apiclient"
	"github.com/narwhal-ci/narwhal/internal/secrets"
)

const secretHelp = `Usage: narwhal secret set|ls|rm --repo OWNER/NAME [flags] [NAME]

Manages a repository's secrets. A step gets the secrets it names in
narwhal.yml (secrets: [NAME]) as environment variables, masked in its log.
Jobs of pull requests from forks get only the secrets set with
--allow-pull-requests. Values are never shown again: ls lists names.

  narwhal secret set --repo OWNER/NAME [--allow-pull-requests] NAME
        reads the value from standard input (one trailing newline dropped)
  narwhal secret ls --repo OWNER/NAME
  narwhal secret rm --repo OWNER/NAME NAME

Flags:
  --repo OWNER/NAME       the repository (required)
  --allow-pull-requests   (set) let jobs of pull requests from forks have it
` + apiFlagsHelp + `
Examples:
  printf %s "$NPM_TOKEN" | narwhal secret set --repo acme/app NPM_TOKEN
  narwhal secret set --repo acme/app DEPLOY_KEY < deploy_key
  narwhal secret ls --repo acme/app
`

const registryHelp = `Usage: narwhal registry add|ls|rm --repo OWNER/NAME [flags] [HOST]

Manages a repository's registry credentials: the runner pulls every image of
HOST (steps and services) with them. They never reach a step, and jobs of
pull requests from forks do not get them.

  narwhal registry add --repo OWNER/NAME HOST --username USER
        reads the password from standard input (one trailing newline dropped)
  narwhal registry ls --repo OWNER/NAME
  narwhal registry rm --repo OWNER/NAME HOST

Flags:
  --repo OWNER/NAME   the repository (required)
  --username USER     (add) the registry user
` + apiFlagsHelp + `
Examples:
  echo "$GHCR_TOKEN" | narwhal registry add --repo acme/app ghcr.io --username acme-bot
  narwhal registry ls --repo acme/app
`

// repoCommand is the parsed part every secret and registry command shares.
type repoCommand struct {
	client *apiclient.Client
	repo   string
	args   []string // the positionals
}

// parseRepoCommand parses a "secret" or "registry" subcommand's flags (more
// defines its own) and wants npos positionals and --repo.
func parseRepoCommand(name, help string, args []string, npos int, stderr io.Writer, more func(*flag.FlagSet)) (repoCommand, bool, error) {
	fs := newFlagSet(name, help, stderr)
	o := addAPIFlags(fs)
	repo := fs.String("repo", "", "")
	if more != nil {
		more(fs)
	}
	pos, ok, err := parseCommand(fs, args, npos, help, stderr)
	if !ok {
		return repoCommand{}, false, err
	}
	if *repo == "" {
		fmt.Fprintf(stderr, "narwhal %s: --repo OWNER/NAME is required\n\n%s", name, help)
		return repoCommand{}, false, exitError(2)
	}
	c, err := o.client(name, stderr)
	if err != nil {
		return repoCommand{}, false, err
	}
	return repoCommand{client: c, repo: *repo, args: pos}, true, nil
}

// subcommand splits "set --repo ..." into the verb and the rest; ok is
// false after -h or a usage error.
func subcommand(name, help string, args []string, verbs []string, stdout, stderr io.Writer) (string, []string, bool, error) {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		w := stdout
		if len(args) == 0 {
			w = stderr
		}
		fmt.Fprint(w, help)
		if len(args) == 0 {
			return "", nil, false, exitError(2)
		}
		return "", nil, false, nil
	}
	for _, v := range verbs {
		if args[0] == v {
			return v, args[1:], true, nil
		}
	}
	fmt.Fprintf(stderr, "narwhal %s: unknown subcommand %q (want %s)\n\n%s", name, args[0], strings.Join(verbs, ", "), help)
	return "", nil, false, exitError(2)
}

// readValue reads a secret or password from r: at most secrets.MaxValueLen
// bytes, one trailing newline dropped, not empty.
func readValue(r io.Reader, what string) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, secrets.MaxValueLen+3))
	if err != nil {
		return "", fmt.Errorf("read the %s from standard input: %w", what, err)
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	switch {
	case v == "":
		return "", fmt.Errorf("no %s on standard input", what)
	case len(v) > secrets.MaxValueLen:
		return "", fmt.Errorf("the %s is over %d bytes", what, secrets.MaxValueLen)
	}
	return v, nil
}

// remove deletes the secret or registry rc names and says so.
func remove(ctx context.Context, rc repoCommand, what string, del func(ctx context.Context, repo, key string) error, stdout io.Writer) error {
	if err := del(ctx, rc.repo, rc.args[0]); err != nil {
		return err
	}
	_, err := fmt.Fprintf(stdout, "%s %s of %s removed\n", what, rc.args[0], rc.repo)
	return err
}

// runSecret is `narwhal secret`, reading values from os.Stdin.
func runSecret(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return secretCommand(ctx, args, os.Stdin, stdout, stderr)
}

func secretCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	verb, rest, ok, err := subcommand("secret", secretHelp, args, []string{"set", "ls", "rm"}, stdout, stderr)
	if !ok {
		return err
	}
	var allow bool
	npos := map[string]int{"set": 1, "ls": 0, "rm": 1}[verb]
	rc, ok, err := parseRepoCommand("secret "+verb, secretHelp, rest, npos, stderr, func(fs *flag.FlagSet) {
		if verb == "set" {
			fs.BoolVar(&allow, "allow-pull-requests", false, "")
		}
	})
	if !ok {
		return err
	}
	switch verb {
	case "set":
		return setSecret(ctx, rc, allow, stdin, stdout)
	case "rm":
		return remove(ctx, rc, "secret", rc.client.DeleteSecret, stdout)
	}
	list, err := rc.client.Secrets(ctx, rc.repo)
	if err != nil {
		return err
	}
	printSecrets(stdout, list, time.Now())
	return nil
}

func setSecret(ctx context.Context, rc repoCommand, allow bool, stdin io.Reader, stdout io.Writer) error {
	v, err := readValue(stdin, "secret value")
	if err != nil {
		return err
	}
	s, err := rc.client.SetSecret(ctx, rc.repo, rc.args[0], v, allow)
	if err != nil {
		return err
	}
	forks := "not for pull requests from forks"
	if s.AllowPullRequests {
		forks = "pull requests from forks get it too"
	}
	_, err = fmt.Fprintf(stdout, "secret %s of %s set (%s)\n", s.Name, rc.repo, forks)
	return err
}

func printSecrets(w io.Writer, list []secrets.Secret, now time.Time) {
	if len(list) == 0 {
		fmt.Fprintln(w, "no secrets")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tFORK PULL REQUESTS\tUPDATED")
	for _, s := range list {
		forks := "no"
		if s.AllowPullRequests {
			forks = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Name, forks, relTime(s.UpdatedAt, now))
	}
	tw.Flush()
}

// runRegistry is `narwhal registry`, reading passwords from os.Stdin.
func runRegistry(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return registryCommand(ctx, args, os.Stdin, stdout, stderr)
}

func registryCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	verb, rest, ok, err := subcommand("registry", registryHelp, args, []string{"add", "ls", "rm"}, stdout, stderr)
	if !ok {
		return err
	}
	var user string
	npos := map[string]int{"add": 1, "ls": 0, "rm": 1}[verb]
	rc, ok, err := parseRepoCommand("registry "+verb, registryHelp, rest, npos, stderr, func(fs *flag.FlagSet) {
		if verb == "add" {
			fs.StringVar(&user, "username", "", "")
		}
	})
	if !ok {
		return err
	}
	switch verb {
	case "add":
		return addRegistry(ctx, rc, user, stdin, stdout)
	case "rm":
		return remove(ctx, rc, "registry", rc.client.DeleteRegistry, stdout)
	}
	list, err := rc.client.Registries(ctx, rc.repo)
	if err != nil {
		return err
	}
	printRegistries(stdout, list, time.Now())
	return nil
}

func addRegistry(ctx context.Context, rc repoCommand, user string, stdin io.Reader, stdout io.Writer) error {
	if user == "" {
		return fmt.Errorf("registry add: --username is required")
	}
	pw, err := readValue(stdin, "password")
	if err != nil {
		return err
	}
	reg, err := rc.client.SetRegistry(ctx, rc.repo, rc.args[0], user, pw)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "registry %s of %s set (user %s)\n", reg.Host, rc.repo, reg.Username)
	return err
}

func printRegistries(w io.Writer, list []secrets.Registry, now time.Time) {
	if len(list) == 0 {
		fmt.Fprintln(w, "no registries")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tUSERNAME\tUPDATED")
	for _, r := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Host, r.Username, relTime(r.UpdatedAt, now))
	}
	tw.Flush()
}
