package logstoretest

import (
	"context"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/logstore"
)

// testChunkTimes: a Timed store's ReadTimed reads as Read does and lists the
// log's chunks in order with their sizes and a write time within the test's
// span (to the second: S3's LastModified has whole seconds).
func testChunkTimes(t *testing.T, s logstore.Store) {
	timed, ok := s.(logstore.Timed)
	if !ok {
		t.Fatalf("%T is not a logstore.Timed", s)
	}
	before := time.Now().Add(-time.Second).Truncate(time.Second)
	Put(t, s, "job-timed", "first\n", "second line\n")
	after := time.Now().Add(time.Second)
	data, complete, chunks, err := timed.ReadTimed(context.Background(), "job-timed", 0, 100)
	if err != nil || string(data) != "first\nsecond line\n" || complete || len(chunks) != 2 {
		t.Fatalf("ReadTimed = %q, %v, %+v, %v", data, complete, chunks, err)
	}
	for i, c := range chunks {
		if c.Seq != i || c.Size != int64(len([]string{"first\n", "second line\n"}[i])) ||
			c.Written.Before(before) || c.Written.After(after) {
			t.Errorf("chunk %d: %+v, want seq %d written between %v and %v", i, c, i, before, after)
		}
	}
}
