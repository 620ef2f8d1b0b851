package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// migrations[i] brings the schema from version i to version i+1. Append only:
// a released migration never changes, a new column is a new migration.
//
// created_at and expires_at hold store.TimeKey strings (fixed-width UTC with
// nanoseconds), whose text order is time order, exactly like the sort keys of
// the DynamoDB layout; doc is the JSON of the whole ci.Job or ci.Runner.
var migrations = []string{
	`CREATE TABLE jobs (
		id         TEXT PRIMARY KEY,
		repo       TEXT NOT NULL,
		status     TEXT NOT NULL,
		branch     TEXT NOT NULL,
		created_at TEXT NOT NULL,
		published  INTEGER NOT NULL,
		version    INTEGER NOT NULL,
		doc        TEXT NOT NULL
	);
	CREATE INDEX jobs_by_created ON jobs (created_at, id);
	CREATE INDEX jobs_by_repo ON jobs (repo, created_at, id);
	CREATE INDEX jobs_by_status ON jobs (status, created_at, id);
	CREATE INDEX jobs_by_repo_status ON jobs (repo, status, created_at, id);
	CREATE INDEX jobs_unpublished ON jobs (created_at, id) WHERE status = 'queued' AND published = 0;
	CREATE TABLE runners (
		id         TEXT PRIMARY KEY,
		expires_at TEXT,
		doc        TEXT NOT NULL
	);`,
	// Build numbers (ci.Job.Number): the last given per repository, and the
	// column that finds a job by it. Jobs from before have none (0).
	`ALTER TABLE jobs ADD COLUMN number INTEGER NOT NULL DEFAULT 0;
	CREATE INDEX jobs_by_number ON jobs (repo, number);
	CREATE TABLE repo_numbers (
		repo TEXT PRIMARY KEY,
		last INTEGER NOT NULL
	);`,
	// A repository's jobs by phase (see phaseOf) instead of by status, so
	// that the moves of a job before its end (queued, assigned, running)
	// leave this index alone: with 20 repositories it was 60% of the pages
	// each assignment wrote (issue 15).
	`ALTER TABLE jobs ADD COLUMN phase TEXT NOT NULL DEFAULT '';
	UPDATE jobs SET phase = ` + phaseSQL + `;
	DROP INDEX jobs_by_repo_status;
	CREATE INDEX jobs_by_repo_phase ON jobs (repo, phase, created_at, id);`,
}

// phaseSQL is phaseOf in SQL, of the row's status column. Migration 3 uses
// it: it never changes.
const phaseSQL = `CASE WHEN status IN ('queued', 'assigned', 'running') THEN 'active' ELSE status END`

// phaseOf is the phase column of a job in status s: the status itself once
// the job ended, "active" before. A repository's jobs in a status are those
// of its phase (jobs_by_repo_phase) that are in that status: all of them for
// a final status, its few unfinished jobs otherwise.
func phaseOf(s ci.Status) string {
	if s.Final() {
		return string(s)
	}
	return "active"
}

// migrate applies the migrations the database lacks, in one transaction that
// holds the write lock, so two processes opening the same file do not race.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var version int
	err = tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`)
	case err == nil && version > len(migrations):
		err = fmt.Errorf("schema version %d is newer than this program's %d", version, len(migrations))
	}
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for v := version; v < len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migrate to version %d: %w", v+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, len(migrations)); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// SchemaVersion returns the schema version of the open database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	var v int
	if err := s.r.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}
