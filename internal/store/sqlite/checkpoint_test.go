package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// The background checkpointer copies committed pages back into the database
// file soon after a burst of writes, long before the writer's own backstop
// (backstopPages) would, and the data reads back the same afterwards.
func TestBackgroundCheckpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "narwhal.db")
	s := openT(t, path)
	before := fileSize(t, path)
	const n = 400
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := s.CreateJob(ctx, newJob(fmt.Sprintf("job-%03d", i))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	t.Logf("database file %d bytes before the burst, %d after", before, fileSize(t, path))
	// 400 jobs fill some 80 pages (and indexes), far fewer than the backstop.
	want := before + 40*4096
	deadline := time.Now().Add(10 * time.Second)
	for fileSize(t, path) < want {
		if time.Now().After(deadline) {
			t.Fatalf("database file is %d bytes 10s after the burst, want >= %d: no checkpoint ran", fileSize(t, path), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := range n {
		if _, err := s.GetJob(ctx, fmt.Sprintf("job-%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
