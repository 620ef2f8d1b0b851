package workspace

import (
	"context"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/testenv/gitserver"
)

const privateToken = "ghs_privateCloneToken42"

// privateRepo is a repository on an authenticated git server that accepts
// privateToken only.
func privateRepo(t *testing.T) (srv *gitserver.Server, url, sha string) {
	srv = gitserver.New(t, gitserver.Token(privateToken))
	url, sha = srv.AddRepo(t, "acme/private", map[string]string{"f": "secret code"})
	return srv, url, sha
}

// TestClonePrivateWithToken clones over https with the token as basic auth,
// trusting the server through CAFile, and leaves the token nowhere on disk:
// not in the workspace (.git/config included), not in a credential helper's
// file, though the runner's git configuration names one.
func TestClonePrivateWithToken(t *testing.T) {
	srv, url, sha := privateRepo(t)
	home := t.TempDir()
	store := filepath.Join(home, "git-credentials")
	writeFile(t, filepath.Join(home, ".gitconfig"), "[credential]\n\thelper = store --file "+store+"\n", 0o644)
	t.Setenv("HOME", home)

	dir := filepath.Join(t.TempDir(), "ws")
	err := Clone(context.Background(), CloneOptions{URL: url, SHA: sha, Dir: dir, Token: privateToken, CAFile: srv.CAFile()})
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "f")); got != "secret code" {
		t.Errorf("f = %q", got)
	}
	if seen := srv.Seen(); len(seen) == 0 || seen[0] != privateToken {
		t.Errorf("server saw tokens %q, want %q", seen, privateToken)
	}
	assertNoToken(t, dir, privateToken)
	assertNoToken(t, home, privateToken)
	if _, err := os.Stat(store); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("credential helper file %s exists (%v)", store, err)
	}
}

// TestClonePrivateAuthErrors: no token, a wrong token, each an *AuthError
// with the reason for people.
func TestClonePrivateAuthErrors(t *testing.T) {
	t.Parallel()
	srv, url, sha := privateRepo(t)
	for _, tc := range []struct {
		token, reason string
	}{{"", ReasonAuthRequired}, {"ghs_wrong", ReasonTokenRejected}} {
		err := Clone(context.Background(), CloneOptions{URL: url, SHA: sha, Dir: t.TempDir(), Token: tc.token, CAFile: srv.CAFile()})
		var auth *AuthError
		if !errors.As(err, &auth) || auth.TokenSent != (tc.token != "") || !strings.HasPrefix(err.Error(), tc.reason) {
			t.Errorf("token %q: err = %v, want an AuthError starting %q", tc.token, err, tc.reason)
			continue
		}
		if !strings.Contains(err.Error(), url) || tc.token != "" && strings.Contains(err.Error(), tc.token) {
			t.Errorf("token %q: error %q should name the URL and not the token", tc.token, err)
		}
	}
}

// TestCloneUntrustedServer: without CAFile git refuses the throw-away
// certificate, and that is no authentication problem.
func TestCloneUntrustedServer(t *testing.T) {
	t.Parallel()
	_, url, sha := privateRepo(t)
	err := Clone(context.Background(), CloneOptions{URL: url, SHA: sha, Dir: t.TempDir(), Token: privateToken})
	var auth *AuthError
	if err == nil || errors.As(err, &auth) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("err = %v, want a certificate error", err)
	}
}

// assertNoToken fails when a file under dir holds token or its basic-auth
// form.
func assertNoToken(t *testing.T, dir, token string) {
	t.Helper()
	cred := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(path)
		if err == nil && (strings.Contains(string(data), token) || strings.Contains(string(data), cred)) {
			t.Errorf("%s holds the token", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
