package logstoretest

import (
	"context"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/logstore"
)

// testIdempotentReput: putting a stored chunk again with the same data is a
// no-op, before and after Finish; with other data it is a conflict and the
// stored chunk stays.
func testIdempotentReput(t *testing.T, s logstore.Store) {
	ctx := Context(t)
	Put(t, s, "job", "aaa", "bbb")
	for _, seq := range []int{0, 1} {
		if err := s.PutChunk(ctx, "job", seq, []byte([]string{"aaa", "bbb"}[seq])); err != nil {
			t.Errorf("re-put of chunk %d: %v", seq, err)
		}
	}
	err := s.PutChunk(ctx, "job", 1, []byte("BBB"))
	expectErr(t, "re-put with other data", err, ci.ErrConflict)
	err = s.PutChunk(ctx, "job", 0, []byte("AAA"))
	expectErr(t, "re-put of the first chunk with other data", err, ci.ErrConflict)
	Finish(t, s, "job")
	if err := s.PutChunk(ctx, "job", 1, []byte("bbb")); err != nil {
		t.Errorf("re-put of the last chunk after Finish: %v", err)
	}
	expectRead(t, s, "job", 0, 100, "aaabbb", true)
}

// testOutOfOrder: PutChunk and PutLast of a seq beyond the next fail with
// ErrOutOfOrder and change nothing.
func testOutOfOrder(t *testing.T, s logstore.Store) {
	ctx := Context(t)
	for _, p := range []struct {
		name string
		put  func(ctx context.Context, job string, seq int, data []byte) error
	}{{"PutChunk", s.PutChunk}, {"PutLast", s.PutLast}} {
		job := "job-" + p.name
		expectErr(t, p.name+" of chunk 1 of a new log", p.put(ctx, job, 1, []byte("x")), logstore.ErrOutOfOrder)
		_, _, err := s.Read(ctx, job, 0, 10)
		expectErr(t, "Read after a refused first "+p.name+" (it changed nothing)", err, ci.ErrNotFound)
		Put(t, s, job, "a")
		expectErr(t, p.name+" of chunk 2 after chunk 0", p.put(ctx, job, 2, []byte("x")), logstore.ErrOutOfOrder)
		if err := p.put(ctx, job, 1, []byte("b")); err != nil {
			t.Fatalf("%s of chunk 1 after chunk 0: %v", p.name, err)
		}
		expectRead(t, s, job, 0, 100, "ab", p.name == "PutLast")
	}
}

func testPutAfterFinish(t *testing.T, s logstore.Store) {
	Put(t, s, "job", "a")
	Finish(t, s, "job")
	err := s.PutChunk(Context(t), "job", 1, []byte("late"))
	expectErr(t, "new chunk after Finish", err, logstore.ErrFinished)
	expectRead(t, s, "job", 0, 100, "a", true)
}
