package workspace

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// git runs git commands for one clone. auth is the environment that carries
// the credentials, added for fetches only; secrets lists every string to
// scrub from error text.
type git struct {
	opts    CloneOptions
	sha     string // opts.SHA in lower case, as git prints it
	env     []string
	auth    []string
	secrets []string
}

// newGit prepares the environment git runs with: the runner's environment
// without variables that would point git elsewhere, made non-interactive,
// and the auth header when there is a token.
func newGit(opts CloneOptions) *git {
	g := &git{opts: opts, sha: strings.ToLower(opts.SHA), env: baseEnv()}
	if opts.CAFile != "" {
		g.env = append(g.env, "GIT_SSL_CAINFO="+opts.CAFile)
	}
	if opts.Token != "" {
		cred := BasicCredential(opts.Token)
		// An empty credential.helper resets the list: no helper of the
		// runner's is asked, and none can store what the server refuses.
		g.auth = []string{"GIT_CONFIG_COUNT=2",
			"GIT_CONFIG_KEY_0=http.extraHeader",
			"GIT_CONFIG_VALUE_0=Authorization: Basic " + cred,
			"GIT_CONFIG_KEY_1=credential.helper", "GIT_CONFIG_VALUE_1="}
		g.secrets = TokenForms(opts.Token)
	}
	return g
}

// droppedEnv lists variables of the runner's environment git must not see:
// they would change which repository it works on, inject configuration or
// prompt for input.
var droppedEnv = []string{
	"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
	"GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE",
	"GIT_CONFIG", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT",
	"GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_", "GIT_ASKPASS", "SSH_ASKPASS",
	"GIT_TERMINAL_PROMPT", "LC_ALL",
}

// baseEnv returns the environment every git command starts from.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !dropped(kv) {
			env = append(env, kv)
		}
	}
	if os.Getenv("GIT_SSH_COMMAND") == "" {
		env = append(env, "GIT_SSH_COMMAND=ssh -o BatchMode=yes")
	}
	return append(env, "GIT_TERMINAL_PROMPT=0", "GCM_INTERACTIVE=never", "LC_ALL=C")
}

// dropped reports whether the KEY=value pair kv is in droppedEnv (a name
// ending in "_" drops every variable with that prefix).
func dropped(kv string) bool {
	name, _, _ := strings.Cut(kv, "=")
	for _, d := range droppedEnv {
		if name == d || strings.HasSuffix(d, "_") && strings.HasPrefix(name, d) {
			return true
		}
	}
	return false
}

// run runs git with args in the clone directory and returns its trimmed
// standard output; only a fetch gets the credentials. Errors carry git's
// standard error, scrubbed of secrets. git and its children form a process
// group, killed when ctx ends.
func (g *git) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir, cmd.Env = g.opts.Dir, g.env
	if subcommand(args) == "fetch" {
		cmd.Env = append(slices.Clip(g.env), g.auth...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := lastLines(stderr.String(), 2000)
		return "", fmt.Errorf("git %s: %s: %s", subcommand(args), g.scrub(err.Error()), g.scrub(msg))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// subcommand returns the git subcommand in args, skipping "-c name=value".
func subcommand(args []string) string {
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "-c":
			i++
		case !strings.HasPrefix(args[i], "-"):
			return args[i]
		}
	}
	return ""
}

// scrub replaces every secret in s by "***".
func (g *git) scrub(s string) string {
	for _, secret := range g.secrets {
		s = strings.ReplaceAll(s, secret, "***")
	}
	return s
}

// lastLines returns the end of s, at most n bytes, trimmed.
func lastLines(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}
