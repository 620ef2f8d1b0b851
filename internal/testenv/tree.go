package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// Tree lists everything under dir, "/"-separated and relative to it,
// directories with a trailing "/", in lexical order: what a test compares a
// restored or cleaned-up directory with.
func Tree(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if info.IsDir() {
			rel += "/"
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
