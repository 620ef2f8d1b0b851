package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// sqlMarkPublished sets Published on one job whose attempt is still the
// published one, in the columns and in the document, with the version and
// UpdatedAt moved on as UpdateJob moves them. It names only published,
// version and doc, so of the indexes only the sparse unpublished one
// changes (its entry goes). It returns the row it wrote, for the cache of an
// exclusive Store.
const sqlMarkPublished = `UPDATE jobs SET published = 1, version = version + 1,
		doc = json_set(doc, '$.published', json('true'), '$.version', version + 1, '$.updated_at', ?)
	WHERE id = ? AND published = 0 AND doc ->> '$.attempt' = ?
	RETURNING version, doc`

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
	var marked []cachedMark
	err := s.writes.writeThen(ctx, func(ctx context.Context, tx *sql.Tx) error {
		marked = marked[:0] // a batch that failed runs again alone
		stmt := tx.StmtContext(ctx, s.st.markPublished)
		for _, m := range msgs {
			c := cachedMark{id: m.JobID}
			err := stmt.QueryRowContext(ctx, now, m.JobID, m.Attempt).Scan(&c.version, &c.doc)
			switch {
			case errors.Is(err, sql.ErrNoRows): // published already, another attempt, or unknown
			case err != nil:
				return err
			default:
				marked = append(marked, c)
			}
		}
		return nil
	}, func() {
		for _, c := range marked {
			s.cache(c.id, c.version, c.doc)
		}
	})
	if err != nil {
		return fmt.Errorf("mark %d jobs published (first %s): %w", len(msgs), msgs[0].JobID, err)
	}
	return nil
}

// cachedMark is a job MarkPublished wrote, as the statement returned it.
type cachedMark struct {
	id      string
	version int64
	doc     []byte
}
