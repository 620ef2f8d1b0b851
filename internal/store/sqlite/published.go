package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// sqlMarkPublished sets Published on one job whose attempt is still the
// published one, in the columns and in the document, with the version and
// UpdatedAt moved on as UpdateJob moves them. It names only published,
// version and doc, so of the indexes only the sparse unpublished one
// changes (its entry goes).
const sqlMarkPublished = `UPDATE jobs SET published = 1, version = version + 1,
		doc = json_set(doc, '$.published', json('true'), '$.version', version + 1, '$.updated_at', ?)
	WHERE id = ? AND published = 0 AND doc ->> '$.attempt' = ?`

// MarkPublished records that the queue confirmed each of msgs: a job stored
// with msg's ID and attempt and Published false gets Published true, its
// Version one more and UpdatedAt now, exactly as an UpdateJob that set
// Published would leave it. A job already published, on another attempt
// (requeued since), or unknown is left alone: that is not an error. The
// marks of one call are one write of the group commit: all of them are
// written or, on an error, none.
//
// It is not part of ci.Store; the intake uses it when a store has it
// (intake.PublishMarker), in place of a read-modify-write per job.
func (s *Store) MarkPublished(ctx context.Context, msgs []ci.JobMessage) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if len(msgs) == 0 {
		return nil
	}
	now := s.now().UTC().Format(time.RFC3339Nano) // as encoding/json writes a time
	err := s.writes.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		stmt := tx.StmtContext(ctx, s.st.markPublished)
		for _, m := range msgs {
			if _, err := stmt.ExecContext(ctx, now, m.JobID, m.Attempt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark %d jobs published (first %s): %w", len(msgs), msgs[0].JobID, err)
	}
	return nil
}
