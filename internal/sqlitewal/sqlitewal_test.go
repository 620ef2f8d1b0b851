package sqlitewal

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// TestConcurrentEnables: connections switching one new file at once all
// succeed (without the retry, one in a few rounds failed with SQLITE_BUSY),
// and the file is in WAL mode afterwards.
func TestConcurrentEnables(t *testing.T) {
	const rounds, n = 50, 8
	for range rounds {
		path := filepath.Join(t.TempDir(), "x.db")
		errs := make(chan error, n)
		for range n {
			go func() { errs <- Enable(context.Background(), path) }()
		}
		for range n {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if mode := journalMode(t, path); mode != "wal" {
			t.Fatalf("journal mode %q after Enable, want wal", mode)
		}
	}
}

// TestEnableGivesUpWithTheContext: a file locked for good is an error once
// the context ends, not a wait of its own.
func TestEnableGivesUpWithTheContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec("CREATE TABLE t (a)"); err != nil { // holds the write lock
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := Enable(ctx, path); err == nil {
		t.Fatal("Enable succeeded on a file another connection is writing")
	}
}

func journalMode(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	return mode
}

// TestEnableRefusesBadPaths: an empty path or one with '?' is refused before
// anything is created.
func TestEnableRefusesBadPaths(t *testing.T) {
	dir := t.TempDir()
	for _, bad := range []string{"", filepath.Join(dir, "what?.db")} {
		if err := Enable(context.Background(), bad); err == nil {
			t.Errorf("Enable(%q) succeeded", bad)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("refused paths left %v", entries)
	}
}
