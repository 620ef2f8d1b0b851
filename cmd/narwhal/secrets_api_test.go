package main

import (
	"context"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"
)

const cliSecret = "cli-s3cret-value"

// withStdin adapts a command that reads standard input to the rig's cli,
// and puts the verb first again (the rig puts --api and --token first).
func withStdin(in string, cmd func(context.Context, []string, io.Reader, io.Writer, io.Writer) error) func(context.Context, []string, io.Writer, io.Writer) error {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		if len(args) > 4 {
			args = append([]string{args[4]}, append(args[:4:4], args[5:]...)...)
		}
		return cmd(ctx, args, strings.NewReader(in), stdout, stderr)
	}
}

func TestSecretSetLsRm(t *testing.T) {
	t.Parallel()
	r := newAPIRig(t)
	out, _, err := r.cli(t, withStdin(cliSecret+"\n", secretCommand), "set", "--repo", "acme/app", "--allow-pull-requests", "NPM_TOKEN")
	if err != nil || !strings.Contains(out, "secret NPM_TOKEN of acme/app set (pull requests from forks get it too)") {
		t.Fatalf("set: %q, %v", out, err)
	}
	if _, _, err := r.cli(t, withStdin(cliSecret, secretCommand), "set", "--repo", "acme/app", "DEPLOY"); err != nil {
		t.Fatal(err)
	}
	got, _ := r.secrets.Resolve(t.Context(), "acme/app")
	if got.Secrets["NPM_TOKEN"].Value != cliSecret || !got.Secrets["NPM_TOKEN"].AllowPullRequests || got.Secrets["DEPLOY"].AllowPullRequests {
		t.Fatalf("store holds %+v (the trailing newline must be dropped)", got.Secrets)
	}
	out, _, err = r.cli(t, withStdin("", secretCommand), "ls", "--repo", "acme/app")
	if err != nil || !regexpMatch(`(?m)^DEPLOY\s+no\s+just now$`, out) || !regexpMatch(`(?m)^NPM_TOKEN\s+yes\s+`, out) {
		t.Fatalf("ls: %q, %v", out, err)
	}
	if strings.Contains(out, cliSecret) {
		t.Fatalf("ls shows the value: %s", out)
	}
	if out, _, err = r.cli(t, withStdin("", secretCommand), "rm", "--repo", "acme/app", "DEPLOY"); err != nil || !strings.Contains(out, "removed") {
		t.Fatalf("rm: %q, %v", out, err)
	}
	_, _, err = r.cli(t, withStdin("", secretCommand), "rm", "--repo", "acme/app", "DEPLOY")
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("second rm: %v, want a 404", err)
	}
}

func TestSecretRefusals(t *testing.T) {
	t.Parallel()
	r := newAPIRig(t)
	for name, c := range map[string]struct {
		stdin string
		args  []string
		want  string
	}{
		"empty stdin": {"", []string{"set", "--repo", "acme/app", "X"}, "no secret value"},
		"bad name":    {"v", []string{"set", "--repo", "acme/app", "BAD-NAME"}, "400"},
		"no repo":     {"v", []string{"set", "X"}, "exit status 2"},
		"bad repo":    {"v", []string{"set", "--repo", "acme", "X"}, "want OWNER/NAME"},
		"no verb":     {"", nil, "exit status 2"},
		"bad verb":    {"", []string{"get", "--repo", "acme/app", "X"}, "exit status 2"},
	} {
		_, _, err := r.cli(t, withStdin(c.stdin, secretCommand), c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	if got, _ := r.secrets.ListSecrets(t.Context(), "acme/app"); len(got) != 0 {
		t.Fatalf("refused commands stored %+v", got)
	}
}

func TestRegistryAddLsRm(t *testing.T) {
	t.Parallel()
	r := newAPIRig(t)
	out, _, err := r.cli(t, withStdin(cliSecret+"\n", registryCommand), "add", "--repo", "acme/app", "ghcr.io", "--username", "acme-bot")
	if err != nil || !strings.Contains(out, "registry ghcr.io of acme/app set (user acme-bot)") {
		t.Fatalf("add: %q, %v", out, err)
	}
	out, _, err = r.cli(t, withStdin("", registryCommand), "ls", "--repo", "acme/app")
	if err != nil || !regexpMatch(`(?m)^ghcr.io\s+acme-bot\s+just now$`, out) || strings.Contains(out, cliSecret) {
		t.Fatalf("ls: %q, %v", out, err)
	}
	_, _, err = r.cli(t, withStdin("pw", registryCommand), "add", "--repo", "acme/app", "ghcr.io")
	if err == nil || !strings.Contains(err.Error(), "--username") {
		t.Fatalf("add without --username: %v", err)
	}
	if _, _, err := r.cli(t, withStdin("", registryCommand), "rm", "--repo", "acme/app", "ghcr.io"); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.secrets.ListRegistries(t.Context(), "acme/app"); len(got) != 0 {
		t.Fatalf("after rm: %+v", got)
	}
	var ex exitError
	if _, _, err := r.cli(t, withStdin("", registryCommand), "ls"); !errors.As(err, &ex) {
		t.Fatalf("ls without --repo: %v", err)
	}
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }
