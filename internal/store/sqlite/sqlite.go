// Package sqlite is the embedded ci.Store of `narwhal dev`: one SQLite file
// (or an in-memory database for tests) through the pure-Go modernc.org/sqlite
// driver, so that no C toolchain is needed.
//
// Layout (see docs/store.md): a jobs table holds the fields that queries
// select and sort on as columns, beside a JSON document of the whole job; a
// runners table does the same for runners. The schema is versioned in
// schema_version and migrated when the store opens.
//
// Concurrency: a file database runs in WAL mode, so readers never wait for the
// writer; every write goes through one connection, so writers of this process
// queue in Go instead of failing with SQLITE_BUSY, and busy_timeout covers
// other processes sharing the file. The writes queued while a transaction
// commits go together into the next one (group commit, see writer), each
// caller still getting its own result.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/sqlitewal"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Memory is the path of a private in-memory database, gone on Close.
const Memory = ":memory:"

// pragmas apply to every connection: wait up to 10 s for another process's
// lock, and take the write lock when a transaction begins (a deferred
// transaction that upgrades later can fail with SQLITE_BUSY at once).
const pragmas = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate"

// Store is a ci.Store in SQLite. It is safe for concurrent use.
type Store struct {
	w       *sql.DB // the single writer connection (and everything, for Memory)
	r       *sql.DB // the reader pool; the same as w for Memory
	st      *stmts
	writes  *writer
	ckpt    *checkpointer // nil for Memory
	jobs    *jobCache     // nil unless exclusive (see Options)
	runners *runnerCache  // nil unless exclusive
	numbers *buildNumbers // the writer's
	unlock  func()        // drops the lock file's lock
	now     func() time.Time
	closed  atomic.Bool
}

// Options are the choices of OpenWith.
type Options struct {
	// Exclusive makes this Store the only one that may open the file until
	// it is closed: a lock file beside it (path + "-lock") refuses other
	// Stores, in this or any process, and in return this one serves reads
	// of the jobs it wrote last from memory (see jobCache). Without it, any
	// number of non-exclusive Stores may share the file. No other program
	// may write the jobs of an exclusive Store's file. A Memory database is
	// private, hence always exclusive.
	Exclusive bool
}

var _ ci.Store = (*Store)(nil)

// Open opens (creating it when missing) the database at path, or a private
// in-memory one when path is Memory, and migrates its schema to the current
// version. The caller must Close it.
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenWith(ctx, path, Options{})
}

// OpenWith is Open with the choices of opts.
func OpenWith(ctx context.Context, path string, opts Options) (*Store, error) {
	if path != Memory {
		if err := sqlitewal.CheckPath(path); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	unlock, err := lockFile(path, opts.Exclusive)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if path != Memory {
		if err := sqlitewal.Enable(ctx, path); err != nil {
			unlock()
			return nil, fmt.Errorf("open store %s: %w", path, err)
		}
	}
	s, err := open(path)
	if err != nil {
		unlock()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s.unlock = unlock
	exclusive := opts.Exclusive || path == Memory
	if exclusive {
		s.jobs, s.runners = newJobCache(), newRunnerCache()
	}
	s.numbers = newBuildNumbers(exclusive)
	if err := migrate(ctx, s.w); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if s.st, err = prepareAll(ctx, s.w, s.r); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s.writes = newWriter(s.w)
	s.writes.rolledBack = s.numbers.reset
	if s.ckpt != nil {
		s.writes.committed = s.ckpt.committed
	}
	return s, nil
}

// fileDSN is the data source of every connection to the file at path, which
// OpenWith has put in WAL mode (sqlitewal) before any of them opens.
func fileDSN(path string) string {
	return path + "?" + pragmas + "&_pragma=synchronous(NORMAL)"
}

// writerDSN is fileDSN for the writer's connection. Its page cache outlives
// its transactions (no other connection changes the file under it), so a
// larger one than the default 2 MiB saves rereading the pages of the jobs it
// updates. But SQLite walks the cache's hash table at the end of every
// transaction (pcache1TruncateUnsafe), and with 64 MiB that walk took 31 µs
// of each group commit, 9% of the writer's time under the intake benchmark;
// 8 MiB (2,048 pages, taken as it fills) cut the intake's CPU per webhook by
// 6% and left dispatch's unchanged (docs/store.md).
func writerDSN(path string) string {
	return fileDSN(path) + "&_pragma=cache_size(-8192)" +
		"&_pragma=wal_autocheckpoint(" + strconv.Itoa(backstopPages) + ")"
}

func open(path string) (*Store, error) {
	if path == Memory {
		db, err := sql.Open("sqlite", Memory+"?"+pragmas)
		if err != nil {
			return nil, err
		}
		// Every connection to :memory: is a database of its own: keep one.
		db.SetMaxOpenConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		return &Store{w: db, r: db, now: time.Now}, nil
	}
	dsn := fileDSN(path) // OpenWith checked path (sqlitewal.CheckPath)
	w, err := sql.Open("sqlite", writerDSN(path))
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	r, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, err
	}
	// Keep every reader open: database/sql keeps 2 idle by default, so under
	// load the others were closed and reopened, each reopening paying for
	// the connection, the schema and the prepared statements again.
	readers := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	r.SetConnMaxIdleTime(0)
	r.SetConnMaxLifetime(0)
	c, err := sql.Open("sqlite", dsn)
	if err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	c.SetMaxOpenConns(1)
	return &Store{w: w, r: r, ckpt: newCheckpointer(c), now: time.Now}, nil
}

// Close closes the database. Calls after it return ci.ErrClosed; closing
// twice is harmless.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if s.writes != nil {
		s.writes.close()
	}
	var err error
	if s.ckpt != nil {
		err = s.ckpt.close()
	}
	if werr := s.w.Close(); err == nil {
		err = werr
	}
	if s.r != s.w {
		if rerr := s.r.Close(); err == nil {
			err = rerr
		}
	}
	s.unlock()
	if err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// check is the first thing every method does: a cancelled context or a
// closed store fails before any SQL runs.
func (s *Store) check(ctx context.Context) error {
	if err := context.Cause(ctx); err != nil {
		return err
	}
	if s.closed.Load() {
		return ci.ErrClosed
	}
	return nil
}
