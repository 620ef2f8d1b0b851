package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// buildNumbers hands out build numbers (ci.Job.Number) in the writer's
// transactions. The last number of each repository is the row of
// repo_numbers; an exclusive Store, the only writer of its file, also keeps
// it in memory as its open transaction has made it, so that a create reads
// nothing before its insert (issue 15: a third of the statements of a
// webhook's write).
//
// Only the writer's goroutine uses it, inside a transaction. A transaction
// that does not commit leaves the memory ahead of the file, so the writer
// calls reset then (writer.rolledBack) and the next number is read again.
type buildNumbers struct {
	last map[string]int // nil: read every time (a Store that shares its file)
}

func newBuildNumbers(exclusive bool) *buildNumbers {
	if !exclusive {
		return &buildNumbers{}
	}
	return &buildNumbers{last: map[string]int{}}
}

// next returns the number the next job of repo takes in tx; the caller
// records it with took once that job is in.
func (b *buildNumbers) next(ctx context.Context, tx *sql.Tx, lastNumber *sql.Stmt, repo string) (int, error) {
	if n, ok := b.last[repo]; ok {
		return n + 1, nil
	}
	var n int
	err := tx.StmtContext(ctx, lastNumber).QueryRowContext(ctx, repo).Scan(&n)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("build number: %w", err)
	}
	return n + 1, nil
}

// took records n as repo's last number in tx: its row, then the memory.
func (b *buildNumbers) took(ctx context.Context, tx *sql.Tx, setNumber *sql.Stmt, repo string, n int) error {
	if _, err := tx.StmtContext(ctx, setNumber).ExecContext(ctx, repo, n); err != nil {
		return fmt.Errorf("build number: %w", err)
	}
	if b.last != nil {
		b.last[repo] = n
	}
	return nil
}

// reset forgets what the memory holds: a transaction did not commit.
func (b *buildNumbers) reset() {
	if b.last != nil {
		clear(b.last)
	}
}
