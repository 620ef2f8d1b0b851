package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/store"
	"github.com/narwhal-ci/narwhal/internal/store/storebench"
)

// BenchmarkListScale is GET /jobs on a SQLite file of 1,000, 10,000 and
// 100,000 jobs (issue 15): the newest page and a page from a cursor
// half-way down must cost the same at every size.
func BenchmarkListScale(b *testing.B) {
	st, err := Open(context.Background(), filepath.Join(b.TempDir(), "narwhal.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	storebench.ListScale(b, st, st.bulkInsert, []int{1_000, 10_000, 100_000}, nil)
}

// bulkInsert writes jobs in one transaction, as CreateJob would one by one.
func (s *Store) bulkInsert(ctx context.Context, jobs []ci.Job) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, j := range jobs {
		j, err := store.PrepareCreate(j, time.Now())
		if err != nil {
			return err
		}
		doc, err := json.Marshal(j)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO jobs (id, repo, status, branch, created_at, published, version, doc)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			j.ID, j.Repo, j.Status, j.Branch, store.TimeKey(j.CreatedAt), j.Published, j.Version, doc); err != nil {
			return fmt.Errorf("insert %s: %w", j.ID, err)
		}
	}
	return tx.Commit()
}
