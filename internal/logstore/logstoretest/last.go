package logstoretest

import (
	"context"
	"strings"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/logstore"
)

// PutLast puts chunk seq of job as the last and fails the test on an error.
func PutLast(t *testing.T, s logstore.Store, job string, seq int, data string) {
	t.Helper()
	if err := s.PutLast(Context(t), job, seq, []byte(data)); err != nil {
		t.Fatalf("PutLast(%s, %d): %v", job, seq, err)
	}
}

// testLastChunk: PutLast stores the last chunk and finishes the log in one;
// a read across the ordinary chunks and the last one at any offset is a
// slice of the whole; putting it again is a no-op, with other data a
// conflict; Finish after it changes nothing; a new chunk is refused.
func testLastChunk(t *testing.T, s logstore.Store) {
	ctx := Context(t)
	chunks := []string{"abc", "defgh", "ijk"}
	whole := strings.Join(chunks, "")
	Put(t, s, "job", chunks[:2]...)
	PutLast(t, s, "job", 2, chunks[2])
	for _, off := range []int{0, 7, 8, 9, 10, 11, 12} {
		for _, limit := range []int{1, 2, 100} {
			want := ""
			if off < len(whole) {
				want = whole[off:min(off+limit, len(whole))]
			}
			expectRead(t, s, "job", int64(off), limit, want, off+len(want) >= len(whole))
		}
	}
	PutLast(t, s, "job", 2, chunks[2]) // a retry
	expectErr(t, "PutLast again with other data", s.PutLast(ctx, "job", 2, []byte("IJK")), ci.ErrConflict)
	Finish(t, s, "job")
	expectErr(t, "new chunk after PutLast", s.PutChunk(ctx, "job", 3, []byte("late")), logstore.ErrFinished)
	if err := s.PutChunk(ctx, "job", 1, []byte("defgh")); err != nil {
		t.Errorf("re-put of an ordinary chunk after PutLast: %v", err)
	}
	expectRead(t, s, "job", 0, 100, whole, true)

	PutLast(t, s, "single", 0, "all of it\n") // the log of most jobs
	expectRead(t, s, "single", 0, 100, "all of it\n", true)
	expectRead(t, s, "single", 4, 3, "of ", false)
}

// testLastChunkRefused: PutLast over an ordinary chunk or after Finish
// fails and changes nothing (out of order: testOutOfOrder); with no data it
// is Finish.
func testLastChunkRefused(t *testing.T, s logstore.Store) {
	ctx := Context(t)
	Put(t, s, "job", "a", "b")
	expectErr(t, "PutLast over ordinary chunk 1", s.PutLast(ctx, "job", 1, []byte("b")), ci.ErrConflict)
	expectRead(t, s, "job", 0, 100, "ab", false)
	Finish(t, s, "job")
	expectErr(t, "PutLast after Finish", s.PutLast(ctx, "job", 2, []byte("c")), logstore.ErrFinished)
	expectRead(t, s, "job", 0, 100, "ab", true)

	PutLast(t, s, "empty", 0, "")
	expectRead(t, s, "empty", 0, 10, "", true)
	expectErr(t, "PutLast with data after PutLast without", s.PutLast(ctx, "empty", 0, []byte("x")), logstore.ErrFinished)
	expectErr(t, "PutLast of an invalid job", s.PutLast(ctx, "../x", 0, []byte("x")), logstore.ErrInvalid)
	expectErr(t, "PutLast of an invalid job without data", s.PutLast(ctx, "../x", 0, nil), logstore.ErrInvalid)
	expectErr(t, "PutLast of seq -1", s.PutLast(ctx, "job", -1, []byte("x")), logstore.ErrInvalid)
}

// testLastChunkTimes: ReadTimed lists the chunk that PutLast stored last,
// with its size.
func testLastChunkTimes(t *testing.T, s logstore.Store) {
	timed, ok := s.(logstore.Timed)
	if !ok {
		t.Fatalf("%T is not a logstore.Timed", s)
	}
	Put(t, s, "job", "first\n")
	PutLast(t, s, "job", 1, "second line\n")
	data, complete, chunks, err := timed.ReadTimed(context.Background(), "job", 0, 100)
	if err != nil || string(data) != "first\nsecond line\n" || !complete || len(chunks) != 2 {
		t.Fatalf("ReadTimed = %q, %v, %+v, %v", data, complete, chunks, err)
	}
	if c := chunks[1]; c.Seq != 1 || c.Size != 12 || !c.Last || chunks[0].Last {
		t.Errorf("chunks = %+v, want the second, of 12 bytes, last", chunks)
	}
}
