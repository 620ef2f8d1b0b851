package pipeline

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// EscapingLinks looks at the cache paths of p (the pipeline's and its
// steps') in the checkout at root, which Parse cannot see, and returns a
// warning for each path that is, or goes through, a symbolic link leading
// out of the checkout: one with an absolute target (in a runner's
// workspace that leads elsewhere) or a relative one that resolves outside
// root. The runner refuses such a path at run time; this says so before a
// push. A path missing from the checkout is no warning (the step may make
// it). The warnings are sorted by path; the error is one of reading root
// itself.
func EscapingLinks(root string, p *Pipeline) ([]string, error) {
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, fmt.Errorf("checkout %s: %w", root, err)
	}
	paths := make(map[string]bool)
	for _, c := range append([]*Cache{p.Cache}, stepCaches(p)...) {
		if c != nil {
			for _, pth := range c.Paths {
				paths[pth] = true
			}
		}
	}
	var out []string
	for pth := range paths {
		if msg := escapingLink(real, pth); msg != "" {
			out = append(out, fmt.Sprintf("cache path %q: %s; the runner will refuse it", pth, msg))
		}
	}
	sort.Strings(out)
	return out, nil
}

// stepCaches are the caches of p's steps.
func stepCaches(p *Pipeline) []*Cache {
	out := make([]*Cache, len(p.Steps))
	for i := range p.Steps {
		out[i] = p.Steps[i].Cache
	}
	return out
}

// escapingLink follows rel (clean, slash-separated) from root, a path
// without links, one component at a time, and describes the first link on
// the way that leads out of root; "" when there is none.
func escapingLink(root, rel string) string {
	cur, parts := root, strings.Split(rel, "/")
	for i, part := range parts {
		next := filepath.Join(cur, part)
		fi, err := os.Lstat(next)
		if err != nil {
			return "" // not in the checkout: made by the step
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		name := strings.Join(parts[:i+1], "/")
		dest, err := os.Readlink(next)
		if err != nil {
			return ""
		}
		if filepath.IsAbs(dest) {
			return fmt.Sprintf("%s is a symbolic link to the absolute path %s, which leads out of the workspace", name, dest)
		}
		if cur, err = filepath.EvalSymlinks(next); err != nil {
			cur = filepath.Join(filepath.Dir(next), dest) // dangling: judged as written
		}
		if !within(root, cur) {
			return fmt.Sprintf("%s is a symbolic link to %s, outside the workspace", name, dest)
		}
	}
	return ""
}

// within reports whether path p is root or under it.
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
