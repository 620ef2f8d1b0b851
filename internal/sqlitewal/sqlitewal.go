// Package sqlitewal puts a SQLite file in write-ahead-log mode, the one step
// of opening a file that SQLite's busy timeout does not cover.
//
// Switching a file's journal mode takes its exclusive lock. When two
// connections switch a new file at once, SQLite sees that waiting could
// deadlock them and fails the second at once with SQLITE_BUSY, whatever the
// busy timeout says: two `narwhal dev` started together, or the store and
// the secrets of one opening the same new file, failed to start now and
// then. Enable retries that one step until it went through, and the file
// stays in WAL mode from then on, so the connections opened after it never
// take that lock.
package sqlitewal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/narwhal-ci/narwhal/internal/retry"
)

// Timeout bounds how long Enable waits for other connections that hold the
// file: the busy timeout narwhal gives every connection.
const Timeout = 10 * time.Second

// The pause between two tries doubles from firstPause up to maxPause.
const (
	firstPause = time.Millisecond
	maxPause   = 50 * time.Millisecond
)

// CheckPath refuses a path that cannot name a database file in a data source
// name of the driver: an empty one, or one with '?', which starts the
// parameters. Openers check it before they create anything for the path.
func CheckPath(path string) error {
	if path == "" || strings.ContainsRune(path, '?') {
		return fmt.Errorf("database path %q: it must be non-empty and without '?'", path)
	}
	return nil
}

// Enable switches the database at path (created when missing; see CheckPath)
// to WAL mode, retrying while other connections hold the file, for Timeout
// at most or until ctx ends.
func Enable(ctx context.Context, path string) error {
	if err := CheckPath(path); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout("+strconv.Itoa(int(Timeout.Milliseconds()))+")")
	if err != nil {
		return fmt.Errorf("journal mode of %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	for pause := firstPause; ; pause = min(2*pause, maxPause) {
		err := setWAL(ctx, db)
		if !isBusy(err) {
			if err != nil {
				return fmt.Errorf("journal mode of %s: %w", path, err)
			}
			return nil
		}
		if !retry.Sleep(ctx, retry.Jitter(pause)) {
			return fmt.Errorf("journal mode of %s: still locked (%v): %w", path, context.Cause(ctx), err)
		}
	}
}

// setWAL asks once for WAL mode; SQLite answers with the mode the file is in
// afterwards.
func setWAL(ctx context.Context, db *sql.DB) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil {
		return err
	}
	if mode != "wal" {
		return fmt.Errorf("the file stays in journal mode %q", mode)
	}
	return nil
}

// isBusy reports whether err is SQLITE_BUSY, in any of its extended forms.
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}
