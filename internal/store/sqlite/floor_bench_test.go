package sqlite

import (
	"context"
	"crypto/sha1"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/sqlitewal"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// floorBatch is the rows of one transaction in BenchmarkSQLiteFloor: about
// what the group commit gathers from BenchmarkIntakeSQLiteMemq's 8 senders.
const floorBatch = 8

// BenchmarkSQLiteFloor is the least a durable record of one job costs in
// SQLite on this machine, to read the intake and dispatch benchmarks against
// (issue 15), as the in-container floor is read beside the log throughput.
//
// One goroutine, on a connection opened as the store opens its writer,
// inserts rows of a random 40-digit key and a document the size of a job's
// into a table with nothing else, floorBatch rows to a transaction and one
// statement to a row. No index, no build number, no publication mark, no
// HTTP, no JSON: the intake does all of that for each webhook on the same
// single writer, so no SQLite store can record webhooks faster than this
// here. It reports rows/s and the CPU time of a row.
func BenchmarkSQLiteFloor(b *testing.B) {
	path := filepath.Join(b.TempDir(), "floor.db")
	if err := sqlitewal.Enable(context.Background(), path); err != nil { // as OpenWith does
		b.Fatal(err)
	}
	db, err := sql.Open("sqlite", writerDSN(path))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		b.Fatalf("journal mode %q, %v: the floor is the store's, in WAL mode", mode, err)
	}
	if _, err := db.Exec(`CREATE TABLE rows (id TEXT PRIMARY KEY, doc TEXT NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	insert, err := db.Prepare(`INSERT INTO rows (id, doc) VALUES (?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	ids, doc := floorIDs(b.N), floorDoc(b)
	b.ResetTimer()
	cpu := testenv.StartCPU(b, 0)
	start := time.Now()
	for i := 0; i < b.N; i += floorBatch {
		floorInsert(b, db, insert, ids[i:min(i+floorBatch, b.N)], doc)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cpu.ReportPerOp(b, b.N, "cpu-us/row")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "rows/s")
}

// floorInsert inserts one row per ID in one transaction.
func floorInsert(b *testing.B, db *sql.DB, insert *sql.Stmt, ids []string, doc string) {
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	stmt := tx.Stmt(insert)
	for _, id := range ids {
		if _, err := stmt.Exec(id, doc); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// floorIDs are n keys spread as job IDs are (hex digests).
func floorIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		sum := sha1.Sum([]byte(strconv.Itoa(i)))
		ids[i] = hex.EncodeToString(sum[:])
	}
	return ids
}

// floorDoc is a document the size of a pushed job's.
func floorDoc(b *testing.B) string {
	doc, err := json.Marshal(ci.Job{ID: strings.Repeat("f", 40), Repo: "acme/app", CloneURL: "https://example.test/acme/app.git",
		SHA: strings.Repeat("a", 40), Ref: "refs/heads/main", Branch: "main", Event: ci.EventPush, Author: "Ada",
		Message: "bench", Status: ci.StatusQueued, Attempt: 1, Version: 1, Number: 1,
		CreatedAt: time.Now(), UpdatedAt: time.Now()})
	if err != nil {
		b.Fatal(err)
	}
	return string(doc)
}
