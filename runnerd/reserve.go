package main

import (
	"context"

	"github.com/narwhal-ci/narwhal/internal/logstore"
	"github.com/narwhal-ci/narwhal/internal/reserve"
)

// reservedLogs is the log directory's store with space held for it: a chunk
// or completion marker that cannot be written for want of space releases
// the reserve and is written again, so a step that fills the disk the
// directory shares with the workspaces still gets its log (its "no space
// left on device" line included) out. Once a write succeeds with the
// reserve released, the reserve is taken back when there is room.
type reservedLogs struct {
	logstore.Store
	spare *reserve.Reserve
}

var _ logstore.Store = reservedLogs{}

// PutChunk implements logstore.Store.
func (r reservedLogs) PutChunk(ctx context.Context, jobID string, seq int, data []byte) error {
	return r.write(func() error { return r.Store.PutChunk(ctx, jobID, seq, data) })
}

// PutLast implements logstore.Store.
func (r reservedLogs) PutLast(ctx context.Context, jobID string, seq int, data []byte) error {
	return r.write(func() error { return r.Store.PutLast(ctx, jobID, seq, data) })
}

// Finish implements logstore.Store.
func (r reservedLogs) Finish(ctx context.Context, jobID string) error {
	return r.write(func() error { return r.Store.Finish(ctx, jobID) })
}

func (r reservedLogs) write(f func() error) error {
	err := f()
	if err != nil && reserve.NoSpace(err) && r.spare.Release() {
		err = f()
	}
	if err == nil && !r.spare.Held() {
		r.spare.Restore()
	}
	return err
}
