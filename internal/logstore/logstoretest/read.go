package logstoretest

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/logstore"
)

func testRoundTrip(t *testing.T, s logstore.Store) {
	chunks := []string{"first line\n", "second\nthird\n", "fourth\n"}
	Put(t, s, "job", chunks...)
	Finish(t, s, "job")
	expectRead(t, s, "job", 0, 1<<20, strings.Join(chunks, ""), true)
}

func testReadDuringRun(t *testing.T, s logstore.Store) {
	Put(t, s, "job", "one\n")
	expectRead(t, s, "job", 0, 100, "one\n", false)
	Put(t, s, "job", "one\n", "two\n") // chunk 0 again is a no-op
	expectRead(t, s, "job", 0, 100, "one\ntwo\n", false)
	expectRead(t, s, "job", 8, 100, "", false) // caught up, more may come
	Finish(t, s, "job")
	expectRead(t, s, "job", 0, 100, "one\ntwo\n", true)
	expectRead(t, s, "job", 8, 100, "", true)
}

// testOffsets reads a log with chunks of different sizes (an empty one
// included) at offsets on, before and after chunk boundaries, with limits
// that end within a chunk, across boundaries and past the end, and compares
// with slicing the whole. (logstore.Plan, the arithmetic both stores share,
// is tested at every offset by its own table test; this keeps S3 requests
// few.)
func testOffsets(t *testing.T, s logstore.Store) {
	chunks := []string{"abc", "defgh", "", "i", "jklmnop"}
	whole := strings.Join(chunks, "")
	Put(t, s, "job", chunks...)
	expectRead(t, s, "job", 3, 100, whole[3:], false) // not finished yet
	Finish(t, s, "job")
	for _, off := range []int{0, 2, 3, 7, 8, 9, 15, 16, 17} {
		for _, limit := range []int{1, 6, 100} {
			want := ""
			if off < len(whole) {
				want = whole[off:min(off+limit, len(whole))]
			}
			expectRead(t, s, "job", int64(off), limit, want, off+len(want) >= len(whole))
		}
	}
}

func testLimitBeforeEnd(t *testing.T, s logstore.Store) {
	Put(t, s, "job", "0123456789", "abcdefghij")
	Finish(t, s, "job")
	expectRead(t, s, "job", 0, 15, "0123456789abcde", false)
	expectRead(t, s, "job", 15, 5, "fghij", true)
	data, complete := ReadAll(t, s, "job", 3)
	if string(data) != "0123456789abcdefghij" || !complete {
		t.Errorf("ReadAll in pages of 3 = %q, %v", data, complete)
	}
}

func testPastEnd(t *testing.T, s logstore.Store) {
	Put(t, s, "job", "abc")
	expectRead(t, s, "job", 10, 5, "", false)
	Finish(t, s, "job")
	expectRead(t, s, "job", 10, 5, "", true)
}

// testJobsIsolated: a job whose ID is a prefix of another's sees only its
// own chunks.
func testJobsIsolated(t *testing.T, s logstore.Store) {
	Put(t, s, "a", "mine\n")
	Put(t, s, "ab", "theirs\n", "more\n")
	Finish(t, s, "ab")
	expectRead(t, s, "a", 0, 100, "mine\n", false)
	expectRead(t, s, "ab", 0, 100, "theirs\nmore\n", true)
}

func testConcurrentJobs(t *testing.T, s logstore.Store) {
	const jobs, chunks = 4, 3
	var wg sync.WaitGroup
	errs := make(chan error, jobs)
	for j := range jobs {
		wg.Go(func() {
			job := fmt.Sprintf("job-%d", j)
			for seq := range chunks {
				if err := s.PutChunk(Context(t), job, seq, []byte(fmt.Sprintf("%s/%d\n", job, seq))); err != nil {
					errs <- err
					return
				}
			}
			errs <- s.Finish(Context(t), job)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for j := range jobs {
		job := fmt.Sprintf("job-%d", j)
		var want strings.Builder
		for seq := range chunks {
			fmt.Fprintf(&want, "%s/%d\n", job, seq)
		}
		expectRead(t, s, job, 0, 1000, want.String(), true)
	}
}
