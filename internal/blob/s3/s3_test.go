package s3

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

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

// TestListBound: a List past its bound returns the first objects and
// ErrTruncated (moto pages at 1000 keys; the bound is in the store).
func TestListBound(t *testing.T) {
	client := s3bucket.Client(t)
	s := New(client, s3bucket.New(t, client, "blobs"), "p")
	s.listLimit = 2
	blobtest.Truncated(t, s)
}

// TestPresignGet: the URL fetches the object with plain net/http, with no
// credentials; a missing key answers 404; a bad ttl is refused.
func TestPresignGet(t *testing.T) {
	client := s3bucket.Client(t)
	s := New(client, s3bucket.New(t, client, "blobs"), "narwhal")
	blobtest.Put(t, s, "artifacts/20260101/j/1/0", "the artifact")
	for key, want := range map[string]struct {
		code int
		body string
	}{"artifacts/20260101/j/1/0": {http.StatusOK, "the artifact"}, "artifacts/none": {http.StatusNotFound, ""}} {
		url, err := s.PresignGet(t.Context(), key, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want.code || (want.body != "" && string(body) != want.body) {
			t.Errorf("GET presigned %s = %d %q, want %d %q", key, resp.StatusCode, body, want.code, want.body)
		}
	}
	for _, ttl := range []time.Duration{0, 8 * 24 * time.Hour} {
		if _, err := s.PresignGet(t.Context(), "artifacts/x", ttl); err == nil {
			t.Errorf("PresignGet with ttl %v succeeded", ttl)
		}
	}
	if _, err := s.PresignGet(t.Context(), "../x", time.Minute); !errors.Is(err, blob.ErrBadKey) {
		t.Errorf("PresignGet(../x): %v", err)
	}
}
