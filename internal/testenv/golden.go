package testenv

import (
	"bytes"
	"os"
	"testing"
)

// Golden compares got with the golden file path, or rewrites the file with
// got when update is set (a test's -update flag), for tests that turn
// testdata files into output.
func Golden(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	if update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}
