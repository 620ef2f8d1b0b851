package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// The statements run on every job or runner change, prepared once when the
// store opens: parsing is a good part of a small statement's cost in SQLite.
const (
	sqlCreateJob = `INSERT INTO jobs (id, repo, status, phase, branch, created_at, published, version, number, doc)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`
	// sqlLastNumber and sqlSetNumber read and record the repository's last
	// build number (see buildNumbers).
	sqlLastNumber = `SELECT last FROM repo_numbers WHERE repo = ?`
	sqlSetNumber  = `INSERT INTO repo_numbers (repo, last) VALUES (?, ?)
		ON CONFLICT (repo) DO UPDATE SET last = excluded.last`
	sqlUpdateJob = `UPDATE jobs SET repo = ?, status = ?, phase = ?, branch = ?, created_at = ?,
		published = ?, version = ?, doc = ? WHERE id = ? AND version = ?`
	// sqlUpdateState is sqlUpdateJob for the usual change, which leaves the
	// job's repo, branch, creation time and phase alone: SQLite rewrites the
	// index entries of every column a SET names, so naming fewer leaves the
	// indexes by creation time, by repository and by phase untouched.
	// sqlUpdatePhase is the change that ends a job: its phase too.
	sqlUpdateState = `UPDATE jobs SET status = ?, published = ?, version = ?, doc = ?
		WHERE id = ? AND version = ? AND repo = ? AND branch = ? AND created_at = ? AND phase = ?`
	sqlUpdatePhase = `UPDATE jobs SET status = ?, phase = ?, published = ?, version = ?, doc = ?
		WHERE id = ? AND version = ? AND repo = ? AND branch = ? AND created_at = ?`
	sqlJobExists = `SELECT 1 FROM jobs WHERE id = ?`
	sqlGetJob    = `SELECT doc FROM jobs WHERE id = ?`
	// sqlJobVersion reads the version column alone: no document to decode.
	sqlJobVersion = `SELECT version FROM jobs WHERE id = ?`
	sqlPutRunner  = `INSERT INTO runners (id, expires_at, doc) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at, doc = excluded.doc`
	sqlGetRunner    = `SELECT doc FROM runners WHERE id = ? AND ` + visible
	sqlListRunners  = `SELECT doc FROM runners WHERE ` + visible + ` ORDER BY id`
	sqlDeleteRunner = `DELETE FROM runners WHERE id = ?`
)

// stmts are the prepared statements: writes on the writer connection,
// reads on the reader pool.
type stmts struct {
	createJob, lastNumber, setNumber, updateJob, updateState, updatePhase, jobExists, putRunner, deleteRunner *sql.Stmt
	getJob, jobVersion, getRunner, listRunners                                                                *sql.Stmt
	markPublished                                                                                             *sql.Stmt // published.go
}

// prepareAll prepares the statements; the schema must be migrated.
func prepareAll(ctx context.Context, w, r *sql.DB) (*stmts, error) {
	var st stmts
	for _, p := range []struct {
		db  *sql.DB
		dst **sql.Stmt
		q   string
	}{
		{w, &st.createJob, sqlCreateJob}, {w, &st.lastNumber, sqlLastNumber}, {w, &st.setNumber, sqlSetNumber},
		{w, &st.updateJob, sqlUpdateJob}, {w, &st.updateState, sqlUpdateState}, {w, &st.updatePhase, sqlUpdatePhase},
		{w, &st.jobExists, sqlJobExists},
		{w, &st.markPublished, sqlMarkPublished},
		{w, &st.putRunner, sqlPutRunner}, {w, &st.deleteRunner, sqlDeleteRunner},
		{r, &st.getJob, sqlGetJob}, {r, &st.jobVersion, sqlJobVersion}, {r, &st.getRunner, sqlGetRunner}, {r, &st.listRunners, sqlListRunners},
	} {
		stmt, err := p.db.PrepareContext(ctx, p.q)
		if err != nil {
			return nil, fmt.Errorf("prepare statements: %w", err)
		}
		*p.dst = stmt
	}
	return &st, nil
}
