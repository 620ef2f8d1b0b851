package logstoretest

import (
	"context"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/logstore"
)

// testChunkTimes: a Timed store lists a log's chunks in order with their
// sizes and a write time within the test's span (to the second: S3's
// LastModified has whole seconds); an unknown job has none.
func testChunkTimes(t *testing.T, s logstore.Store) {
	timed, ok := s.(logstore.Timed)
	if !ok {
		t.Fatalf("%T is not a logstore.Timed", s)
	}
	before := time.Now().Add(-time.Second).Truncate(time.Second)
	Put(t, s, "job-timed", "first\n", "second line\n")
	after := time.Now().Add(time.Second)
	chunks, err := timed.Chunks(context.Background(), "job-timed")
	if err != nil || len(chunks) != 2 {
		t.Fatalf("Chunks = %+v, %v", chunks, err)
	}
	for i, c := range chunks {
		if c.Seq != i || c.Size != int64(len([]string{"first\n", "second line\n"}[i])) ||
			c.Written.Before(before) || c.Written.After(after) {
			t.Errorf("chunk %d: %+v, want seq %d written between %v and %v", i, c, i, before, after)
		}
	}
	if chunks, err := timed.Chunks(context.Background(), "job-none"); err != nil || len(chunks) != 0 {
		t.Errorf("Chunks of an unknown job = %+v, %v", chunks, err)
	}
}
