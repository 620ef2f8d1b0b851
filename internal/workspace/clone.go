package workspace

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// CloneOptions says which commit of which repository to check out where.
type CloneOptions struct {
	// URL is an https URL, a file:// URL or a local path. Credentials belong
	// in Token, not in the URL.
	URL string
	// SHA is the full 40-hex-digit commit to check out; short SHAs are refused.
	SHA string
	// Dir receives the working tree; it must be missing or empty.
	Dir string
	// Token, for https URLs only, is sent as HTTP basic auth
	// (x-access-token:Token), the form GitHub installation tokens take. It is
	// passed to git's fetches (no other git command) through the
	// environment, so it never appears in .git/config, in a process listing
	// or in an error.
	Token string
	// CAFile, when set, is a PEM file of the certificates git trusts for
	// https (GIT_SSL_CAINFO) instead of the system's: a GitHub Enterprise
	// Server with a private CA, or a test's git server. Without it, a
	// GIT_SSL_CAINFO in the runner's environment applies.
	CAFile string
	// Ref optionally names a ref that contains SHA (refs/pull/7/head,
	// refs/tags/v1); it is fetched when SHA cannot be fetched directly and is
	// not on a branch.
	Ref string
}

// Clone checks out opts.SHA of opts.URL into opts.Dir, detached, using the
// git CLI. It fetches only that commit (depth 1) when the server allows
// fetching by commit ID, which protocol v2 servers (GitHub, git 2.26+) do; it
// falls back to fetching all branches and tags, then opts.Ref. A commit the
// repository does not have is reported as "commit <sha> not found in <url>".
// git runs non-interactively: it never prompts for credentials. ctx ends git
// and the processes it started. On error, Dir may hold a partial repository;
// the caller removes it. A server that wants credentials it did not get, or
// refuses those it got, gives an *AuthError.
func Clone(ctx context.Context, opts CloneOptions) error {
	if err := opts.check(); err != nil {
		return fmt.Errorf("clone repo: %w", err)
	}
	g := newGit(opts)
	if err := g.init(ctx); err != nil {
		return fmt.Errorf("clone repo: %w", err)
	}
	var auth *AuthError
	if err := g.fetch(ctx); errors.As(err, &auth) {
		return err // says all a person needs
	} else if err != nil {
		return fmt.Errorf("clone repo: %w", err)
	}
	if err := g.checkout(ctx); err != nil {
		return fmt.Errorf("clone repo: %w", err)
	}
	return nil
}

// check validates the options before git runs.
func (o CloneOptions) check() error {
	if o.URL == "" || o.Dir == "" {
		return errors.New("URL and Dir are required")
	}
	if !isFullSHA(o.SHA) {
		return fmt.Errorf("commit %q is not a full 40-hex-digit SHA (short SHAs are not accepted)", o.SHA)
	}
	if o.Token != "" && !strings.HasPrefix(strings.ToLower(o.URL), "https://") {
		return fmt.Errorf("a token is only sent over https, not to %s", redactURL(o.URL))
	}
	entries, err := os.ReadDir(o.Dir)
	if err == nil && len(entries) > 0 {
		return fmt.Errorf("directory %s is not empty", o.Dir)
	}
	return nil
}

// isFullSHA reports whether s is 40 lower- or upper-case hex digits.
func isFullSHA(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

// redactURL hides the password of a URL with user information; anything
// that is not such a URL is returned as is.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}
