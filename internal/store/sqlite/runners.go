package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/store"
)

// visible is the condition that hides runners past their ExpiresAt, as
// DynamoDB's TTL eventually deletes them (store.RunnerExpired).
const visible = `(expires_at IS NULL OR expires_at > ?)`

// PutRunner inserts or replaces the runner with r's ID; see ci.Store.
func (s *Store) PutRunner(ctx context.Context, r ci.Runner) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	r, err := store.PrepareRunner(r)
	if err != nil {
		return err
	}
	doc, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("put runner %s: %w", r.ID, err)
	}
	var expires any // NULL: never
	if !r.ExpiresAt.IsZero() {
		expires = store.TimeKey(r.ExpiresAt)
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO runners (id, expires_at, doc) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at, doc = excluded.doc`, r.ID, expires, doc)
	if err != nil {
		return fmt.Errorf("put runner %s: %w", r.ID, err)
	}
	return nil
}

// GetRunner returns the runner with that ID; see ci.Store.
func (s *Store) GetRunner(ctx context.Context, id string) (ci.Runner, error) {
	if err := s.check(ctx); err != nil {
		return ci.Runner{}, err
	}
	var doc []byte
	err := s.r.QueryRowContext(ctx, `SELECT doc FROM runners WHERE id = ? AND `+visible,
		id, store.TimeKey(s.now())).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		err = ci.ErrNotFound
	}
	if err != nil {
		return ci.Runner{}, fmt.Errorf("get runner %s: %w", id, err)
	}
	return decodeRunner(doc)
}

// ListRunners returns every runner, sorted by ID; see ci.Store.
func (s *Store) ListRunners(ctx context.Context) ([]ci.Runner, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT doc FROM runners WHERE `+visible+` ORDER BY id`, store.TimeKey(s.now()))
	if err != nil {
		return nil, fmt.Errorf("list runners: %w", err)
	}
	defer rows.Close()
	var out []ci.Runner
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("list runners: %w", err)
		}
		r, err := decodeRunner(doc)
		if err != nil {
			return nil, fmt.Errorf("list runners: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list runners: %w", err)
	}
	return out, nil
}

// DeleteRunner removes the runner; deleting an unknown ID is not an error.
func (s *Store) DeleteRunner(ctx context.Context, id string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if _, err := s.w.ExecContext(ctx, `DELETE FROM runners WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete runner %s: %w", id, err)
	}
	return nil
}

func decodeRunner(doc []byte) (ci.Runner, error) {
	var r ci.Runner
	if err := json.Unmarshal(doc, &r); err != nil {
		return ci.Runner{}, fmt.Errorf("decode runner: %w", err)
	}
	return r, nil
}
