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
	key := ""
	if !r.ExpiresAt.IsZero() {
		key = store.TimeKey(r.ExpiresAt)
		expires = key
	}
	err = s.writes.writeThen(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.StmtContext(ctx, s.st.putRunner).ExecContext(ctx, r.ID, expires, doc)
		return err
	}, func() {
		if s.runners != nil {
			s.runners.put(r.ID, key, doc)
		}
	})
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
	now := store.TimeKey(s.now())
	if s.runners != nil {
		if c, ok := s.runners.get(id); ok {
			if c.expires != "" && c.expires <= now { // the visible condition
				return ci.Runner{}, fmt.Errorf("get runner %s: %w", id, ci.ErrNotFound)
			}
			return decodeRunner(c.doc)
		}
	}
	var doc []byte
	err := s.st.getRunner.QueryRowContext(ctx, id, now).Scan(&doc)
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
	rows, err := s.st.listRunners.QueryContext(ctx, store.TimeKey(s.now()))
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
	err := s.writes.writeThen(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.StmtContext(ctx, s.st.deleteRunner).ExecContext(ctx, id)
		return err
	}, func() {
		if s.runners != nil {
			s.runners.drop(id)
		}
	})
	if err != nil {
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
