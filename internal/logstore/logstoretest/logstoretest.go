// Package logstoretest is the contract suite of logstore.Store: every
// implementation runs Run from its own tests, so fs and s3 are held to the
// same behaviour (docs/logs.md states it).
package logstoretest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/logstore"
)

// NewStore returns an empty store for one subtest; it registers its own
// cleanup with t.
type NewStore func(t *testing.T) logstore.Store

// Run runs the contract suite. Subtests run in parallel, each on a store of
// its own from newStore.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s logstore.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"ReadDuringRun", testReadDuringRun},
		{"Offsets", testOffsets},
		{"LimitBeforeEnd", testLimitBeforeEnd},
		{"PastEnd", testPastEnd},
		{"IdempotentReput", testIdempotentReput},
		{"OutOfOrder", testOutOfOrder},
		{"PutAfterFinish", testPutAfterFinish},
		{"UnknownJob", testUnknownJob},
		{"EmptyFinishedLog", testEmptyFinishedLog},
		{"InvalidArguments", testInvalidArguments},
		{"JobsIsolated", testJobsIsolated},
		{"ConcurrentJobs", testConcurrentJobs},
		{"Shipper", testShipper},
		{"ShipperReadableDuringRun", testShipperReadableDuringRun},
		{"ChunkTimes", testChunkTimes},
		{"LastChunk", testLastChunk},
		{"LastChunkRefused", testLastChunkRefused},
		{"LastChunkTimes", testLastChunkTimes},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

// Context returns a context that ends with the test or after a minute.
func Context(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// Put puts chunks 0, 1, ... of job and fails the test on an error.
func Put(t *testing.T, s logstore.Store, job string, chunks ...string) {
	t.Helper()
	for seq, c := range chunks {
		if err := s.PutChunk(Context(t), job, seq, []byte(c)); err != nil {
			t.Fatalf("PutChunk(%s, %d): %v", job, seq, err)
		}
	}
}

// Finish finishes job's log and fails the test on an error.
func Finish(t *testing.T, s logstore.Store, job string) {
	t.Helper()
	if err := s.Finish(Context(t), job); err != nil {
		t.Fatalf("Finish(%s): %v", job, err)
	}
}

// ReadAll reads job's log from the start in pages of page bytes, the way a
// follower does, until a read returns no new data, and returns the data and
// the last complete flag.
func ReadAll(t *testing.T, s logstore.Store, job string, page int) ([]byte, bool) {
	t.Helper()
	var all []byte
	for {
		data, complete, err := s.Read(Context(t), job, int64(len(all)), page)
		if err != nil {
			t.Fatalf("Read(%s, %d, %d): %v", job, len(all), page, err)
		}
		all = append(all, data...)
		if complete || len(data) == 0 {
			return all, complete
		}
	}
}

// expectRead reads once and compares data and complete.
func expectRead(t *testing.T, s logstore.Store, job string, off int64, limit int, want string, wantComplete bool) {
	t.Helper()
	data, complete, err := s.Read(Context(t), job, off, limit)
	if err != nil {
		t.Fatalf("Read(%s, %d, %d): %v", job, off, limit, err)
	}
	if !bytes.Equal(data, []byte(want)) || complete != wantComplete {
		t.Errorf("Read(%s, %d, %d) = %q, %v; want %q, %v", job, off, limit, data, complete, want, wantComplete)
	}
}

// expectErr fails unless err matches target.
func expectErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: err = %v, want %v", what, err, target)
	}
}

func testUnknownJob(t *testing.T, s logstore.Store) {
	_, _, err := s.Read(Context(t), "never-written", 0, 10)
	expectErr(t, "Read of an unknown job", err, ci.ErrNotFound)
}

func testEmptyFinishedLog(t *testing.T, s logstore.Store) {
	Finish(t, s, "empty")
	expectRead(t, s, "empty", 0, 10, "", true)
	Finish(t, s, "empty") // idempotent
	expectRead(t, s, "empty", 0, 10, "", true)
	err := s.PutChunk(Context(t), "empty", 0, []byte("late"))
	expectErr(t, "first chunk after Finish", err, logstore.ErrFinished)
	expectRead(t, s, "empty", 0, 10, "", true)
}

func testInvalidArguments(t *testing.T, s logstore.Store) {
	ctx := Context(t)
	for _, id := range []string{"", ".", "..", "../x", "a/b", "/abs", ".hidden", "a\x00b", "a b", "a\\b"} {
		expectErr(t, "PutChunk("+id+")", s.PutChunk(ctx, id, 0, []byte("x")), logstore.ErrInvalid)
		expectErr(t, "Finish("+id+")", s.Finish(ctx, id), logstore.ErrInvalid)
		_, _, err := s.Read(ctx, id, 0, 1)
		expectErr(t, "Read("+id+")", err, logstore.ErrInvalid)
	}
	expectErr(t, "PutChunk seq -1", s.PutChunk(ctx, "job", -1, []byte("x")), logstore.ErrInvalid)
	Put(t, s, "job", "abc")
	_, _, err := s.Read(ctx, "job", -1, 1)
	expectErr(t, "Read at -1", err, logstore.ErrInvalid)
	_, _, err = s.Read(ctx, "job", 0, 0)
	expectErr(t, "Read with limit 0", err, logstore.ErrInvalid)
}
