package workspace

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkClone asserts that dir holds a checkout of sha with f containing want.
func checkClone(t *testing.T, dir, sha, want string) {
	t.Helper()
	if got := gitIn(t, dir, "rev-parse", "HEAD"); got != sha {
		t.Errorf("HEAD = %s, want %s", got, sha)
	}
	if got := readFile(t, filepath.Join(dir, "f")); got != want {
		t.Errorf("f = %q, want %q", got, want)
	}
	if status := gitIn(t, dir, "status", "--porcelain"); status != "" {
		t.Errorf("working tree not clean:\n%s", status)
	}
}

func TestCloneFileURLShallowAtSHA(t *testing.T) {
	t.Parallel()
	repo := sharedRepo(t)
	dir := filepath.Join(t.TempDir(), "ws")
	err := Clone(context.Background(), CloneOptions{URL: "file://" + repo.dir, SHA: repo.first, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	checkClone(t, dir, repo.first, "1")
	if got := gitIn(t, dir, "rev-parse", "--is-shallow-repository"); got != "true" {
		t.Errorf("is-shallow-repository = %s, want true", got)
	}
}

func TestCloneLocalPath(t *testing.T) {
	t.Parallel()
	repo := sharedRepo(t)
	dir := t.TempDir()
	err := Clone(context.Background(), CloneOptions{URL: repo.dir, SHA: strings.ToUpper(repo.second), Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	checkClone(t, dir, repo.second, "2")
}

func TestCloneCommitOnlyOnPullRef(t *testing.T) {
	t.Parallel()
	repo := sharedRepo(t)
	dir := t.TempDir()
	err := Clone(context.Background(), CloneOptions{URL: "file://" + repo.dir, SHA: repo.pull, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	checkClone(t, dir, repo.pull, "pull")
}

// TestCloneFallback makes the server refuse fetching by commit ID (protocol
// v0 without allow*SHA1InWant), so Clone must fetch branches, then the Ref.
func TestCloneFallback(t *testing.T) {
	repo := newTestRepo(t)
	gitIn(t, repo.dir, "config", "uploadpack.allowReachableSHA1InWant", "false")
	gitIn(t, repo.dir, "config", "uploadpack.allowAnySHA1InWant", "false")
	global := filepath.Join(t.TempDir(), "gitconfig")
	writeFile(t, global, "[protocol]\n\tversion = 0\n", 0o644)
	t.Setenv("GIT_CONFIG_GLOBAL", global)
	url := "file://" + repo.dir

	dir := t.TempDir()
	if err := Clone(context.Background(), CloneOptions{URL: url, SHA: repo.first, Dir: dir}); err != nil {
		t.Fatal(err)
	}
	checkClone(t, dir, repo.first, "1")
	if got := gitIn(t, dir, "rev-parse", "--is-shallow-repository"); got != "false" {
		t.Errorf("is-shallow-repository = %s, want false (full fetch)", got)
	}

	err := Clone(context.Background(), CloneOptions{URL: url, SHA: repo.pull, Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "commit "+repo.pull+" not found in "+url) {
		t.Fatalf("clone of a commit on no branch without Ref: err = %v", err)
	}
	dir = t.TempDir()
	opts := CloneOptions{URL: url, SHA: repo.pull, Dir: dir, Ref: "refs/pull/1/head"}
	if err := Clone(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	checkClone(t, dir, repo.pull, "pull")
}

func TestCloneUnknownSHA(t *testing.T) {
	t.Parallel()
	repo := sharedRepo(t)
	sha := strings.Repeat("ab", 20)
	err := Clone(context.Background(), CloneOptions{URL: repo.dir, SHA: sha, Dir: t.TempDir()})
	want := "commit " + sha + " not found in " + repo.dir
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want it to contain %q", err, want)
	}
}

func TestCloneRefusesBadOptions(t *testing.T) {
	t.Parallel()
	full := strings.Repeat("a", 40)
	nonEmpty := t.TempDir()
	writeFile(t, filepath.Join(nonEmpty, "x"), "", 0o644)
	cases := []struct {
		name string
		opts CloneOptions
		want string
	}{
		{"short sha", CloneOptions{URL: "/r", SHA: "abc123", Dir: t.TempDir()}, "short SHAs are not accepted"},
		{"not hex", CloneOptions{URL: "/r", SHA: strings.Repeat("g", 40), Dir: t.TempDir()}, "not a full"},
		{"token over http", CloneOptions{URL: "http://h/r", SHA: full, Dir: t.TempDir(), Token: "tok"}, "only sent over https"},
		{"dir not empty", CloneOptions{URL: "/r", SHA: full, Dir: nonEmpty}, "not empty"},
		{"no url", CloneOptions{SHA: full, Dir: t.TempDir()}, "required"},
	}
	for _, tc := range cases {
		err := Clone(context.Background(), tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

// TestCloneTokenNeverLeaks puts a git wrapper first in PATH that records its
// arguments and the auth header it received, then clones from an https URL
// that refuses connections.
func TestCloneTokenNeverLeaks(t *testing.T) {
	const token = "ghs_s3cr3tT0ken"
	bin, logs := t.TempDir(), t.TempDir()
	wrapper := "#!/bin/sh\necho \"$@\" >> " + logs + "/args\n" +
		"echo \"$1|$GIT_CONFIG_KEY_0=$GIT_CONFIG_VALUE_0\" >> " + logs + "/env\nexec /usr/bin/git \"$@\"\n"
	writeFile(t, filepath.Join(bin, "git"), wrapper, 0o755)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))

	dir := t.TempDir()
	url := "https://127.0.0.1:1/owner/repo.git"
	err := Clone(context.Background(), CloneOptions{URL: url, SHA: strings.Repeat("c", 40), Dir: dir, Token: token})
	if err == nil {
		t.Fatal("clone from a closed port succeeded")
	}
	cred := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))
	for name, text := range map[string]string{
		"error": err.Error(), ".git/config": readFile(t, filepath.Join(dir, ".git", "config")),
		"git arguments": readFile(t, filepath.Join(logs, "args")),
	} {
		if strings.Contains(text, token) || strings.Contains(text, cred) {
			t.Errorf("%s contains the token:\n%s", name, text)
		}
	}
	env := readFile(t, filepath.Join(logs, "env"))
	if !strings.Contains(env, "fetch|http.extraHeader=Authorization: Basic "+cred) {
		t.Errorf("git fetch did not get the auth header through its environment:\n%s", env)
	}
	for line := range strings.Lines(env) {
		if strings.Contains(line, cred) && !strings.HasPrefix(line, "fetch|") {
			t.Errorf("a git command other than fetch got the auth header: %s", line)
		}
	}
	if !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("error does not say what failed: %v", err)
	}
}

func TestScrub(t *testing.T) {
	t.Parallel()
	g := newGit(CloneOptions{Token: "tok123"})
	cred := base64.StdEncoding.EncodeToString([]byte("x-access-token:tok123"))
	got := g.scrub("a tok123 b " + cred)
	if strings.Contains(got, "tok123") || strings.Contains(got, cred) || !strings.HasPrefix(got, "a *** b ") {
		t.Errorf("scrub = %q", got)
	}
}
