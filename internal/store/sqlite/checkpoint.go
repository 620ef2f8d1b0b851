package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// Checkpoints copy the WAL back into the database file. SQLite runs them in
// the commit that crosses wal_autocheckpoint, so the writer, and every write
// queued behind it, waited for thousands of pages to be copied and the file
// to be synced: most of the slowest 1% of writes. Instead, a background
// checkpointer runs passive checkpoints (which neither wait for nor block the
// writer or the readers) on a connection of its own, at most every
// checkpointEvery while writes come; the writer checkpoints itself only past
// backstopPages, should the checkpointer fall that far behind.
const (
	checkpointEvery = 200 * time.Millisecond
	backstopPages   = 100_000
)

// checkpointer runs the background checkpoints of a file database.
type checkpointer struct {
	db     *sql.DB
	kick   chan struct{} // a write committed: the WAL grew
	quit   chan struct{}
	exited chan struct{}
}

func newCheckpointer(db *sql.DB) *checkpointer {
	c := &checkpointer{db: db, kick: make(chan struct{}, 1), quit: make(chan struct{}), exited: make(chan struct{})}
	go c.loop()
	return c
}

// committed tells the checkpointer the WAL grew; it never blocks.
func (c *checkpointer) committed() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *checkpointer) loop() {
	defer close(c.exited)
	for {
		select {
		case <-c.kick:
		case <-c.quit:
			return
		}
		c.checkpoint()
		select {
		case <-time.After(checkpointEvery):
		case <-c.quit:
			return
		}
	}
}

// checkpoint runs one passive checkpoint. Its failure (the file busy with
// another process's checkpoint) is harmless: the next one, or the writer's
// backstop, copies what this one did not.
func (c *checkpointer) checkpoint() {
	var busy, logPages, copied int
	_ = c.db.QueryRowContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logPages, &copied)
}

// close stops the checkpointer and closes its connection.
func (c *checkpointer) close() error {
	close(c.quit)
	<-c.exited
	return c.db.Close()
}
