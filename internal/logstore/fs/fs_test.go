package fs

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/logstore"
	"github.com/narwhal-ci/narwhal/internal/logstore/logstoretest"
)

func TestContract(t *testing.T) {
	logstoretest.Run(t, func(t *testing.T) logstore.Store { return New(t.TempDir()) })
}

// TestLayout: the files on disk are the ones docs/logs.md describes, and no
// temporary file is left behind.
func TestLayout(t *testing.T) {
	dir := t.TempDir()
	s := New(filepath.Join(dir, "logs")) // created on the first write
	logstoretest.Put(t, s, "job1", "a", "b")
	logstoretest.Finish(t, s, "job1")
	entries, err := os.ReadDir(filepath.Join(dir, "logs", "job1"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"00000000.log", "00000001.log", "complete"}; !slices.Equal(names, want) {
		t.Errorf("files = %v, want %v", names, want)
	}
}

// TestPathTraversal: job IDs that would leave the store's directory are
// rejected before anything touches the disk.
func TestPathTraversal(t *testing.T) {
	base := t.TempDir()
	s := New(filepath.Join(base, "logs"))
	ctx := logstoretest.Context(t)
	for _, id := range []string{"..", "../escaped", "../../etc", "a/../../b", "/tmp/abs"} {
		if err := s.PutChunk(ctx, id, 0, []byte("x")); !errors.Is(err, logstore.ErrInvalid) {
			t.Errorf("PutChunk(%q) = %v, want ErrInvalid", id, err)
		}
		if err := s.Finish(ctx, id); !errors.Is(err, logstore.ErrInvalid) {
			t.Errorf("Finish(%q) = %v, want ErrInvalid", id, err)
		}
	}
	entries, err := os.ReadDir(base)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("rejected IDs left %d entries in %s (first %s)", len(entries), base, entries[0].Name())
	}
}

// TestTempFilesInvisible: a chunk being written (a temporary file) is not
// part of the log a reader sees.
func TestTempFilesInvisible(t *testing.T) {
	dir := t.TempDir()
	s := New(dir)
	logstoretest.Put(t, s, "job", "done\n")
	if err := os.WriteFile(filepath.Join(dir, "job", tempPrefix+"123"), []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	data, complete, err := s.Read(logstoretest.Context(t), "job", 0, 100)
	if err != nil || string(data) != "done\n" || complete {
		t.Errorf("Read = %q, %v, %v; want the stored chunk only", data, complete, err)
	}
}
