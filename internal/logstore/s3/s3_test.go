package s3

import (
	"errors"
	"slices"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/logstore"
	"github.com/narwhal-ci/narwhal/internal/logstore/logstoretest"
	"github.com/narwhal-ci/narwhal/internal/testenv/s3bucket"
)

func TestContract(t *testing.T) {
	client := s3bucket.Client(t)
	logstoretest.Run(t, func(t *testing.T) logstore.Store {
		return New(client, s3bucket.New(t, client, "logs"), "logs")
	})
}

// TestLayout: the object keys are the ones docs/logs.md describes, with
// the prefix's slashes normalised, and a store without prefix works too.
func TestLayout(t *testing.T) {
	client := s3bucket.Client(t)
	for _, tc := range []struct{ prefix, want string }{{"/narwhal/logs/", "narwhal/logs/"}, {"", ""}} {
		bucket := s3bucket.New(t, client, "logs")
		s := New(client, bucket, tc.prefix)
		logstoretest.Put(t, s, "job1", "a", "b")
		logstoretest.Finish(t, s, "job1")
		want := []string{tc.want + "job1/00000000.log", tc.want + "job1/00000001.log", tc.want + "job1/complete"}
		if keys := s3bucket.Keys(t, client, bucket); !slices.Equal(keys, want) {
			t.Errorf("prefix %q: keys = %v, want %v", tc.prefix, keys, want)
		}
		data, complete := logstoretest.ReadAll(t, s, "job1", 10)
		if string(data) != "ab" || !complete {
			t.Errorf("prefix %q: log = %q, %v", tc.prefix, data, complete)
		}
	}
}

// TestMissingBucket: a backend failure is an error, not an unknown job.
func TestMissingBucket(t *testing.T) {
	s := New(s3bucket.Client(t), "narwhal-no-such-bucket", "")
	ctx := logstoretest.Context(t)
	if err := s.PutChunk(ctx, "job", 0, []byte("x")); err == nil {
		t.Error("PutChunk into a missing bucket succeeded")
	}
	if _, _, err := s.Read(ctx, "job", 0, 10); err == nil || errors.Is(err, ci.ErrNotFound) {
		t.Errorf("Read from a missing bucket: %v, want a backend error", err)
	}
}
