package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"runtime"
	"sync"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// maxBatch bounds how many writes one transaction of the group commit
// holds; maxYields how often collect yields for more (see there).
const (
	maxBatch  = 256
	maxYields = 2
)

// writer is the group commit of the store's writes. SQLite has one writer
// at a time and every commit pays for its WAL frames, so instead of one
// transaction per write, one goroutine takes every write queued while the
// previous transaction committed and runs them in one transaction. Each
// caller still gets its own result:
//
//   - a write is one statement (plus reads), so a conditional write that
//     matches nothing (ci.ErrExists, ci.ErrConflict, ci.ErrNotFound) has
//     changed nothing and is that caller's answer alone;
//   - any other failure (of a statement or of the commit) rolls the whole
//     transaction back and runs each of its writes again in a transaction of
//     its own, so that one write's failure is never another's;
//   - no caller hears of success before the transaction holding its write
//     committed.
//
// A write whose context ended while it was queued is not run.
type writer struct {
	db  *sql.DB
	ops chan *op
	// committed, when set, is called after each transaction that committed
	// (the checkpointer's kick); it must not block. rolledBack, when set, is
	// called on the writer's goroutine after each that began and did not
	// commit, before any other begins (what a transaction kept in memory is
	// then ahead of the file: buildNumbers).
	committed, rolledBack func()

	mu     sync.RWMutex // held for reading while sending on ops; Close sets closed under it
	closed bool
	quit   chan struct{} // closed by close: drain ops and stop
	exited chan struct{} // closed when the loop returned
}

// op is one write: run executes it in the batch's transaction; then, when
// set, runs on the writer's goroutine once that transaction committed with
// run's write in it, before the caller hears of it (commit order).
type op struct {
	ctx  context.Context
	run  func(ctx context.Context, tx *sql.Tx) error
	then func()
	done chan error
}

func newWriter(db *sql.DB) *writer {
	w := &writer{db: db, ops: make(chan *op, maxBatch), quit: make(chan struct{}), exited: make(chan struct{})}
	go w.loop()
	return w
}

// write runs run in a transaction of the group commit and returns its
// outcome once that transaction committed (or failed). After close it
// returns ci.ErrClosed.
func (w *writer) write(ctx context.Context, run func(context.Context, *sql.Tx) error) error {
	return w.writeThen(ctx, run, nil)
}

// writeThen is write that calls then (see op) once run's write committed.
func (w *writer) writeThen(ctx context.Context, run func(context.Context, *sql.Tx) error, then func()) error {
	o := &op{ctx: ctx, run: run, then: then, done: make(chan error, 1)}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return ci.ErrClosed
	}
	w.ops <- o
	w.mu.RUnlock()
	return <-o.done
}

// close runs the writes already queued, then stops the loop.
func (w *writer) close() {
	w.mu.Lock()
	already := w.closed
	w.closed = true
	w.mu.Unlock()
	if !already {
		close(w.quit)
	}
	<-w.exited
}

func (w *writer) loop() {
	defer close(w.exited)
	for {
		select {
		case o := <-w.ops:
			w.commit(w.collect(o))
		case <-w.quit:
			for {
				select {
				case o := <-w.ops:
					w.commit(w.collect(o))
				default:
					return
				}
			}
		}
	}
}

// collect returns first and the writes queued behind it, up to maxBatch.
// When the queue is empty it yields the processor up to maxYields times
// before it stops: goroutines that are about to queue a write run first and
// join this transaction, so that under load a transaction holds many writes
// instead of one and a half (issue 15). With nothing else runnable a yield
// returns at once, so an idle store adds no delay.
func (w *writer) collect(first *op) []*op {
	batch := []*op{first}
	for yields := 0; len(batch) < maxBatch; {
		select {
		case o := <-w.ops:
			batch = append(batch, o)
		default:
			if yields == maxYields {
				return batch
			}
			yields++
			runtime.Gosched()
		}
	}
	return batch
}

// commit runs batch in one transaction and answers each caller; when the
// transaction fails, it runs each write alone.
func (w *writer) commit(batch []*op) {
	live := batch[:0]
	for _, o := range batch {
		if err := context.Cause(o.ctx); err != nil {
			o.done <- err
			continue
		}
		live = append(live, o)
	}
	if len(live) == 0 {
		return
	}
	errs, err := w.inTx(live)
	switch {
	case err != nil && len(live) == 1:
		live[0].done <- err
	case err != nil:
		for _, o := range live {
			w.alone(o)
		}
	default:
		if w.committed != nil {
			w.committed()
		}
		for i, o := range live {
			o.answer(errs[i])
		}
	}
}

// answer tells the caller the outcome of its committed write: then first when
// the write took place.
func (o *op) answer(err error) {
	if err == nil && o.then != nil {
		o.then()
	}
	o.done <- err
}

// alone runs one write in a transaction of its own and answers its caller.
func (w *writer) alone(o *op) {
	errs, err := w.inTx([]*op{o})
	if err != nil {
		o.done <- err
		return
	}
	o.answer(errs[0])
}

// inTx runs ops in one transaction and commits it. errs[i] is op i's own
// outcome (a conditional write that matched nothing); err is a failure of
// the transaction, after which nothing of it is written. The transaction
// runs on its own context: one caller's cancellation must not undo the
// others' writes.
func (w *writer) inTx(ops []*op) (errs []error, err error) {
	ctx := context.Background()
	errs = make([]error, len(ops))
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return errs, err
	}
	for i, o := range ops {
		errs[i] = o.run(ctx, tx)
		if errs[i] != nil && !outcome(errs[i]) {
			_ = tx.Rollback()
			w.undone()
			return errs, errs[i]
		}
	}
	if err := tx.Commit(); err != nil {
		w.undone()
		return errs, err
	}
	return errs, nil
}

// undone tells rolledBack that a transaction did not commit.
func (w *writer) undone() {
	if w.rolledBack != nil {
		w.rolledBack()
	}
}

// outcome: err is a write's own answer, which leaves the transaction intact.
func outcome(err error) bool {
	return errors.Is(err, ci.ErrExists) || errors.Is(err, ci.ErrConflict) || errors.Is(err, ci.ErrNotFound)
}
