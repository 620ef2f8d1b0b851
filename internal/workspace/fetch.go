package workspace

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// init creates an empty repository in Dir with origin pointing at the URL.
// No template is copied, so no hook of the host's git installation runs.
func (g *git) init(ctx context.Context) error {
	if err := os.MkdirAll(g.opts.Dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", g.opts.Dir, err)
	}
	if _, err := g.run(ctx, "init", "--quiet", "--template=", "."); err != nil {
		return err
	}
	remote, err := remoteURL(g.opts.URL)
	if err != nil {
		return err
	}
	_, err = g.run(ctx, "remote", "add", "origin", remote)
	return err
}

// remoteURL makes a relative local path absolute (git runs inside Dir);
// URLs and absolute paths are returned unchanged.
func remoteURL(raw string) (string, error) {
	if strings.Contains(raw, "://") || filepath.IsAbs(raw) {
		return raw, nil
	}
	abs, err := filepath.Abs(raw)
	if err != nil {
		return "", fmt.Errorf("repository path %s: %w", raw, err)
	}
	return abs, nil
}

// fetch gets the commit: by itself at depth 1 when the server allows it,
// otherwise with every branch and tag, then Ref if the commit is still
// missing.
func (g *git) fetch(ctx context.Context) error {
	_, err := g.run(ctx, "fetch", "--quiet", "--no-tags", "--depth=1", "origin", g.sha)
	if err == nil || ctx.Err() != nil {
		return err
	}
	if auth := g.authError(err); auth != nil {
		return auth // the fallback would be refused the same way
	}
	return g.fetchFull(ctx)
}

// fetchFull is the fallback of fetch for servers that refuse fetching a
// commit by ID (protocol v0 servers without uploadpack.allowReachableSHA1InWant).
func (g *git) fetchFull(ctx context.Context) error {
	url := redactURL(g.opts.URL)
	_, err := g.run(ctx, "fetch", "--quiet", "--no-tags", "origin",
		"+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*")
	if err != nil {
		return cmp.Or(g.authError(err), fmt.Errorf("fetch %s: %w", url, err))
	}
	if g.hasCommit(ctx) || g.opts.Ref == "" {
		return nil
	}
	if _, err := g.run(ctx, "fetch", "--quiet", "--no-tags", "origin", g.opts.Ref); err != nil {
		return fmt.Errorf("fetch %s from %s: %w", g.opts.Ref, url, err)
	}
	return nil
}

// hasCommit reports whether the repository holds the commit.
func (g *git) hasCommit(ctx context.Context) bool {
	_, err := g.run(ctx, "cat-file", "-e", g.sha+"^{commit}")
	return err == nil
}

// checkout detaches HEAD at the commit and checks that it got there. Hooks
// are disabled, whatever the host's git configuration says.
func (g *git) checkout(ctx context.Context) error {
	if !g.hasCommit(ctx) {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fmt.Errorf("commit %s not found in %s", g.sha, redactURL(g.opts.URL))
	}
	_, err := g.run(ctx, "-c", "core.hooksPath=/dev/null", "checkout", "--quiet", "--detach", g.sha)
	if err != nil {
		return err
	}
	head, err := g.run(ctx, "rev-parse", "HEAD")
	if err != nil {
		return err
	}
	if head != g.sha {
		return fmt.Errorf("HEAD is %s after checking out %s", head, g.sha)
	}
	return nil
}
