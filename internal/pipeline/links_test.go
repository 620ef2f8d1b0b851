package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEscapingLinks builds a checkout with links on a real filesystem and
// checks which cache paths are reported.
func TestEscapingLinks(t *testing.T) {
	t.Parallel()
	root, outside := t.TempDir(), t.TempDir()
	for _, dir := range []string{"sub/real", "plain"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		".cache":       outside,                        // absolute, out
		"inside-abs":   filepath.Join(root, "sub"),     // absolute, even into the checkout
		"node_modules": "../" + filepath.Base(outside), // relative, out
		"vendor":       "sub/real",                     // relative, in
		"sub/up":       "../..",                        // relative, out, from a subdirectory
		"gone":         "../../nowhere",                // dangling, out
		"gone-in":      "plain/later",                  // dangling, in
		"hop":          "vendor",                       // a link to a link, in
	}
	for name, dest := range links {
		if err := os.Symlink(dest, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	yml := "image: x\ncache: {key: k, paths: [.cache/go-build, node_modules, vendor/x, missing/y, plain]}\n" +
		"steps:\n  - {name: a, commands: [x]}\n" +
		"  - {name: b, commands: [x], cache: {key: b, paths: [sub/up/etc, gone, gone-in, hop/z, inside-abs]}}\n"
	p, err := Parse("f.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	got, err := EscapingLinks(root, p)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`cache path ".cache/go-build": .cache is a symbolic link to the absolute path ` + outside + `, which leads out of the workspace; the runner will refuse it`,
		`cache path "gone": gone is a symbolic link to ../../nowhere, outside the workspace; the runner will refuse it`,
		`cache path "inside-abs": inside-abs is a symbolic link to the absolute path ` + filepath.Join(root, "sub") + `, which leads out of the workspace; the runner will refuse it`,
		`cache path "node_modules": node_modules is a symbolic link to ../` + filepath.Base(outside) + `, outside the workspace; the runner will refuse it`,
		`cache path "sub/up/etc": sub/up is a symbolic link to ../.., outside the workspace; the runner will refuse it`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := EscapingLinks(filepath.Join(root, "no-such-dir"), p); err == nil {
		t.Error("a missing checkout: no error")
	}
}
