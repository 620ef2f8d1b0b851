package s3

import (
	"slices"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/blob"
	"github.com/narwhal-ci/narwhal/internal/blob/blobtest"
	"github.com/narwhal-ci/narwhal/internal/testenv/s3bucket"
)

func TestContract(t *testing.T) {
	client := s3bucket.Client(t)
	blobtest.Run(t, func(t *testing.T) blob.Store { return New(client, s3bucket.New(t, client, "blobs"), "/narwhal/") })
}

// TestLayout: the object of key K is <prefix>/K.
func TestLayout(t *testing.T) {
	client := s3bucket.Client(t)
	bucket := s3bucket.New(t, client, "blobs")
	blobtest.Put(t, New(client, bucket, "/narwhal/blobs/"), "snapshots/j/1/build.tar.zst", "x")
	if keys := s3bucket.Keys(t, client, bucket); !slices.Equal(keys, []string{"narwhal/blobs/snapshots/j/1/build.tar.zst"}) {
		t.Errorf("keys = %v", keys)
	}
}
