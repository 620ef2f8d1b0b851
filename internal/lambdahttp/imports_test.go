package lambdahttp_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// adapters are the packages under internal/ allowed to import
// github.com/aws/aws-lambda-go: the two event adapters, this one (API
// Gateway) and mqbridge (the Amazon MQ event source).
var adapters = []string{"lambdahttp", "mqbridge"}

// TestOnlyEventAdaptersImportLambda keeps Lambda types out of the rest of
// internal/ (tests and testdata fixtures aside).
func TestOnlyEventAdaptersImportLambda(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" { // not packages: the go tool ignores them
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		if rel, _ := filepath.Rel(root, filepath.Dir(path)); slices.Contains(adapters, rel) {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); strings.HasPrefix(p, "github.com/aws/aws-lambda-go") {
				rel, _ := filepath.Rel(root, path)
				t.Errorf("internal/%s imports %s: only the event adapters %v may", rel, p, adapters)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
