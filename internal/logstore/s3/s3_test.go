package s3

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/logstore"
	"github.com/narwhal-ci/narwhal/internal/logstore/logstoretest"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// newClient points the SDK at moto_server the way production code is
// configured: from the environment, path-style because an endpoint is set.
func newClient(t *testing.T) *awss3.Client {
	t.Helper()
	testenv.AWSEndpoint(t)
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatalf("load AWS config: %v", err)
	}
	return awss3.NewFromConfig(cfg, func(o *awss3.Options) { o.UsePathStyle = true })
}

// newBucket creates a bucket for one test and empties and deletes it at the end.
func newBucket(t *testing.T, client *awss3.Client) string {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	bucket := "narwhal-logs-test-" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	t.Cleanup(func() { deleteBucket(t, client, bucket) })
	return bucket
}

func deleteBucket(t *testing.T, client *awss3.Client, bucket string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, key := range listKeys(t, client, bucket) {
		if _, err := client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
			t.Errorf("delete %s: %v", key, err)
		}
	}
	if _, err := client.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Errorf("delete bucket %s: %v", bucket, err)
	}
}

func listKeys(t *testing.T, client *awss3.Client, bucket string) []string {
	t.Helper()
	out, err := client.ListObjectsV2(context.Background(), &awss3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("list %s: %v", bucket, err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

func TestContract(t *testing.T) {
	client := newClient(t)
	logstoretest.Run(t, func(t *testing.T) logstore.Store {
		return New(client, newBucket(t, client), "logs")
	})
}

// TestLayout: the object keys are the ones docs/logs.md describes, with
// the prefix's slashes normalised, and a store without prefix works too.
func TestLayout(t *testing.T) {
	client := newClient(t)
	for _, tc := range []struct{ prefix, want string }{{"/narwhal/logs/", "narwhal/logs/"}, {"", ""}} {
		bucket := newBucket(t, client)
		s := New(client, bucket, tc.prefix)
		logstoretest.Put(t, s, "job1", "a", "b")
		logstoretest.Finish(t, s, "job1")
		want := []string{tc.want + "job1/00000000.log", tc.want + "job1/00000001.log", tc.want + "job1/complete"}
		if keys := listKeys(t, client, bucket); !slices.Equal(keys, want) {
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
	s := New(newClient(t), "narwhal-no-such-bucket", "")
	ctx := logstoretest.Context(t)
	if err := s.PutChunk(ctx, "job", 0, []byte("x")); err == nil {
		t.Error("PutChunk into a missing bucket succeeded")
	}
	if _, _, err := s.Read(ctx, "job", 0, 10); err == nil || errors.Is(err, ci.ErrNotFound) {
		t.Errorf("Read from a missing bucket: %v, want a backend error", err)
	}
}
