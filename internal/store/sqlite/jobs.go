package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/store"
)

// CreateJob stores j when its ID is free; see ci.Store.
func (s *Store) CreateJob(ctx context.Context, j ci.Job) (ci.Job, error) {
	if err := s.check(ctx); err != nil {
		return ci.Job{}, err
	}
	j, err := store.PrepareCreate(j, s.now())
	if err != nil {
		return ci.Job{}, err
	}
	j.Number = 0 // the writer numbers it, and the document then (withNumber)
	unnumbered, err := json.Marshal(j)
	if err != nil {
		return ci.Job{}, fmt.Errorf("create job %s: %w", j.ID, err)
	}
	var doc []byte
	err = s.writes.writeThen(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		doc, err = s.insertJob(ctx, tx, &j, unnumbered)
		return err
	}, func() { s.cache(j.ID, j.Version, doc) })
	if err != nil {
		return ci.Job{}, fmt.Errorf("create job %s: %w", j.ID, err)
	}
	return j, nil
}

// cache records the job written at version as doc (exclusive Stores).
func (s *Store) cache(id string, version int64, doc []byte) {
	if s.jobs != nil {
		s.jobs.put(id, version, doc)
	}
}

// cached returns the job with that ID as this Store last wrote it, when it
// is exclusive and keeps it.
func (s *Store) cached(id string) (cachedJob, bool) {
	if s.jobs == nil {
		return cachedJob{}, false
	}
	return s.jobs.get(id)
}

// insertJob stores j, numbered, in tx, and returns its document: unnumbered
// (j's JSON without a number) with the number. The insert is what finds a
// job that exists (ErrExists), and the number is recorded only after it, so
// a duplicate leaves no gap.
func (s *Store) insertJob(ctx context.Context, tx *sql.Tx, j *ci.Job, unnumbered []byte) ([]byte, error) {
	n, err := s.numbers.next(ctx, tx, s.st.lastNumber, j.Repo)
	if err != nil {
		return nil, err
	}
	j.Number = n
	doc := withNumber(unnumbered, n)
	res, err := tx.StmtContext(ctx, s.st.createJob).ExecContext(ctx,
		j.ID, j.Repo, j.Status, phaseOf(j.Status), j.Branch, store.TimeKey(j.CreatedAt), j.Published, j.Version, j.Number, doc)
	if err := conditional(res, err, func() error { return ci.ErrExists }); err != nil {
		return nil, err
	}
	return doc, s.numbers.took(ctx, tx, s.st.setNumber, j.Repo, n)
}

// withNumber returns the JSON object doc of a job without a number (Number
// 0, which omitempty leaves out) with "number": n added as its last member.
// A create marshals its job before it queues for the writer, which alone
// learns the number: the single writer's transaction, which every write
// waits for, then does not encode the job (5% of its time under the intake).
func withNumber(doc []byte, n int) []byte {
	out := make([]byte, 0, len(doc)+len(`,"number":}`)+20)
	out = append(out, doc[:len(doc)-1]...) // without its closing brace
	out = append(out, `,"number":`...)
	out = strconv.AppendInt(out, int64(n), 10)
	return append(out, '}')
}

// GetJob returns the job with that ID; see ci.Store.
func (s *Store) GetJob(ctx context.Context, id string) (ci.Job, error) {
	if err := s.check(ctx); err != nil {
		return ci.Job{}, err
	}
	if c, ok := s.cached(id); ok {
		return decodeJob(c.doc)
	}
	var doc []byte
	err := s.st.getJob.QueryRowContext(ctx, id).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		err = ci.ErrNotFound
	}
	if err != nil {
		return ci.Job{}, fmt.Errorf("get job %s: %w", id, err)
	}
	return decodeJob(doc)
}

// JobVersion returns the Version the job with that ID is stored at, without
// reading or decoding the job: a caller holding the job as it last wrote it
// learns whether anyone changed it since. An unknown ID is ci.ErrNotFound.
// It is not part of ci.Store (the dispatcher uses it when a store has it).
func (s *Store) JobVersion(ctx context.Context, id string) (int64, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	if c, ok := s.cached(id); ok {
		return c.version, nil
	}
	var v int64
	err := s.st.jobVersion.QueryRowContext(ctx, id).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		err = ci.ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("job version %s: %w", id, err)
	}
	return v, nil
}

// UpdateJob replaces the job when its stored version is j.Version; see ci.Store.
func (s *Store) UpdateJob(ctx context.Context, j ci.Job) (ci.Job, error) {
	if err := s.check(ctx); err != nil {
		return ci.Job{}, err
	}
	next, err := store.PrepareUpdate(j, s.now())
	if err != nil {
		return ci.Job{}, err
	}
	doc, err := json.Marshal(next)
	if err != nil {
		return ci.Job{}, fmt.Errorf("update job %s: %w", j.ID, err)
	}
	err = s.writes.writeThen(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return s.updateRow(ctx, tx, j.Version, next, doc)
	}, func() { s.cache(next.ID, next.Version, doc) })
	if err != nil {
		return ci.Job{}, fmt.Errorf("update job %s: %w", j.ID, err)
	}
	return next, nil
}

// updateRow writes next, as doc, over the row of version, naming in its SET
// no more columns than changed (see sqlUpdateState): the state alone, the
// state and phase (the job ended), or everything.
func (s *Store) updateRow(ctx context.Context, tx *sql.Tx, version int64, next ci.Job, doc []byte) error {
	created, phase := store.TimeKey(next.CreatedAt), phaseOf(next.Status)
	res, err := tx.StmtContext(ctx, s.st.updateState).ExecContext(ctx,
		next.Status, next.Published, next.Version, doc,
		next.ID, version, next.Repo, next.Branch, created, phase)
	if err := written(res, err); !errors.Is(err, errNoRow) {
		return err
	}
	res, err = tx.StmtContext(ctx, s.st.updatePhase).ExecContext(ctx,
		next.Status, phase, next.Published, next.Version, doc,
		next.ID, version, next.Repo, next.Branch, created)
	if err := written(res, err); !errors.Is(err, errNoRow) {
		return err
	}
	res, err = tx.StmtContext(ctx, s.st.updateJob).ExecContext(ctx, // the repo, branch or time changed too
		next.Repo, next.Status, phase, next.Branch, created, next.Published, next.Version, doc,
		next.ID, version)
	return conditional(res, err, func() error { return s.missOrConflict(ctx, tx, next.ID) })
}

// missOrConflict tells why a conditional update matched no row. Jobs are
// never deleted, so a row that exists now existed then.
func (s *Store) missOrConflict(ctx context.Context, tx *sql.Tx, id string) error {
	var one int
	err := tx.StmtContext(ctx, s.st.jobExists).QueryRowContext(ctx, id).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return ci.ErrNotFound
	case err != nil:
		return err
	}
	return ci.ErrConflict
}

// ListJobs returns one page of jobs, newest first; see ci.Store.
func (s *Store) ListJobs(ctx context.Context, f ci.JobFilter) (ci.JobPage, error) {
	if err := s.check(ctx); err != nil {
		return ci.JobPage{}, err
	}
	where, args, err := jobFilter(f)
	if err != nil {
		return ci.JobPage{}, fmt.Errorf("list jobs: %w", err)
	}
	limit := store.Limit(f.Limit)
	q := `SELECT doc FROM jobs` + where + ` ORDER BY created_at DESC, id DESC LIMIT ?`
	jobs, err := s.query(ctx, q, append(args, limit+1)...)
	if err != nil {
		return ci.JobPage{}, fmt.Errorf("list jobs: %w", err)
	}
	page := ci.JobPage{Jobs: jobs}
	if len(jobs) > limit {
		last := jobs[limit-1]
		page.Jobs, page.Cursor = jobs[:limit], store.EncodeCursor(store.SortKey(last.CreatedAt, last.ID))
	}
	return page, nil
}

// jobFilter turns f into a WHERE clause and its arguments.
func jobFilter(f ci.JobFilter) (string, []any, error) {
	var conds []string
	var args []any
	add := func(cond string, a ...any) { conds, args = append(conds, cond), append(args, a...) }
	if f.Repo != "" {
		add("repo = ?", f.Repo)
	}
	if f.Status != "" {
		add("status = ?", f.Status)
	}
	if f.Repo != "" && f.Status != "" {
		add("phase = ?", phaseOf(f.Status)) // jobs_by_repo_phase
	}
	if f.Branch != "" {
		add("branch = ?", f.Branch)
	}
	if f.Number > 0 {
		add("number = ?", f.Number)
	}
	if f.IDPrefix != "" {
		// A range on the key rather than LIKE (which folds case): every ID
		// character sorts below 0x7f (ci.ValidJobID).
		add("id >= ? AND id < ?", f.IDPrefix, f.IDPrefix+"\x7f")
	}
	if f.Cursor != "" {
		ts, id, err := store.DecodeCursor(f.Cursor)
		if err != nil {
			return "", nil, err
		}
		add("(created_at, id) < (?, ?)", ts, id)
	}
	if len(conds) == 0 {
		return "", nil, nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

// ListUnpublished returns queued, unpublished jobs created before the given
// time, oldest first; see ci.Store.
func (s *Store) ListUnpublished(ctx context.Context, before time.Time, limit int) ([]ci.Job, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	jobs, err := s.query(ctx, `SELECT doc FROM jobs WHERE status = 'queued' AND published = 0 AND created_at < ?
		ORDER BY created_at, id LIMIT ?`, store.TimeKey(before), store.Limit(limit))
	if err != nil {
		return nil, fmt.Errorf("list unpublished jobs: %w", err)
	}
	return jobs, nil
}

// query runs a SELECT of job documents on the reader pool.
func (s *Store) query(ctx context.Context, q string, args ...any) ([]ci.Job, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var jobs []ci.Job
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return nil, err
		}
		j, err := decodeJob(doc)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	return jobs, rows.Err()
}

func decodeJob(doc []byte) (ci.Job, error) {
	var j ci.Job
	if err := json.Unmarshal(doc, &j); err != nil {
		return ci.Job{}, fmt.Errorf("decode job: %w", err)
	}
	return j, nil
}

// conditional is the outcome of a conditional write: its statement's error,
// or miss() when it matched no row.
func conditional(res sql.Result, err error, miss func() error) error {
	if err := written(res, err); !errors.Is(err, errNoRow) {
		return err
	}
	return miss()
}

// errNoRow says a conditional write matched no row.
var errNoRow = errors.New("no row written")

// written turns the outcome of a conditional write into an error: the
// statement's own, or errNoRow when it changed nothing.
func written(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return errNoRow
	}
	return nil
}
