// Package s3 is the blob.Store of the deployed system: the object with key K
// is <prefix>/K in one bucket. S3 makes a PutObject visible only once whole,
// which is the contract's atomicity; Sweep lists the prefix and deletes what
// was last modified before the cut-off (the bucket's lifecycle rule in
// template.yaml expires the same objects on its own schedule).
//
// Build the client as for the log store (path-style when an endpoint is set).
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/narwhal-ci/narwhal/internal/blob"
	"github.com/narwhal-ci/narwhal/internal/ci"
)

// api is the part of the S3 client the store uses.
type api interface {
	PutObject(ctx context.Context, in *awss3.PutObjectInput, opts ...func(*awss3.Options)) (*awss3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *awss3.GetObjectInput, opts ...func(*awss3.Options)) (*awss3.GetObjectOutput, error)
	DeleteObject(ctx context.Context, in *awss3.DeleteObjectInput, opts ...func(*awss3.Options)) (*awss3.DeleteObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *awss3.ListObjectsV2Input, opts ...func(*awss3.Options)) (*awss3.ListObjectsV2Output, error)
	CopyObject(ctx context.Context, in *awss3.CopyObjectInput, opts ...func(*awss3.Options)) (*awss3.CopyObjectOutput, error)
}

// Store is a blob.Store in an S3 bucket. It is safe for concurrent use.
type Store struct {
	s3        api
	presign   *awss3.PresignClient
	bucket    string
	prefix    string // "" or ending in "/"
	listLimit int    // blob.MaxList; lower in tests
}

var _ blob.Store = (*Store)(nil)

// New returns a store that keeps objects in bucket under prefix ("" for the
// bucket's root; surrounding slashes are ignored). The bucket must exist.
func New(client *awss3.Client, bucket, prefix string) *Store {
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &Store{s3: client, presign: awss3.NewPresignClient(client), bucket: bucket, prefix: prefix, listLimit: blob.MaxList}
}

// Put sends r to the object with one PutObject; see blob.Store. The SDK
// reads r once for the checksum and again for the body, which is why it
// must be seekable.
func (s *Store) Put(ctx context.Context, key string, r io.ReadSeeker) error {
	if err := blob.CheckKey(key); err != nil {
		return err
	}
	_, err := s.s3.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key), Body: r})
	if err != nil {
		return fmt.Errorf("put blob %s: %w", key, err)
	}
	return nil
}

// Open returns the object's body; see blob.Store.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := blob.CheckKey(key); err != nil {
		return nil, err
	}
	out, err := s.s3.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)})
	var missing *types.NoSuchKey
	if errors.As(err, &missing) || statusIs(err, http.StatusNotFound) {
		return nil, fmt.Errorf("blob %s: %w", key, ci.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", key, err)
	}
	return out.Body, nil
}

// Delete removes the object (S3 answers a missing key with success too).
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := blob.CheckKey(key); err != nil {
		return err
	}
	_, err := s.s3.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)})
	if err != nil {
		return fmt.Errorf("delete blob %s: %w", key, err)
	}
	return nil
}

// Sweep lists the objects below prefix and deletes those last modified
// before the given time; see blob.Store.
func (s *Store) Sweep(ctx context.Context, prefix string, before time.Time) (int, error) {
	if err := blob.CheckPrefix(prefix); err != nil {
		return 0, err
	}
	n := 0
	p := awss3.NewListObjectsV2Paginator(s.s3, &awss3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(s.listPrefix(prefix))})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return n, fmt.Errorf("sweep blobs %s: %w", prefix, err)
		}
		for _, o := range page.Contents {
			if o.LastModified == nil || !o.LastModified.Before(before) {
				continue
			}
			if err := s.Delete(ctx, strings.TrimPrefix(aws.ToString(o.Key), s.prefix)); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// Touch copies the object onto itself with its metadata replaced, which is
// how S3 sets an object's LastModified without rewriting it from here; see
// blob.Store. S3 copies at most 5 GB in one CopyObject, which bounds the
// objects Touch works on.
func (s *Store) Touch(ctx context.Context, key string) error {
	if err := blob.CheckKey(key); err != nil {
		return err
	}
	full := s.prefix + key
	_, err := s.s3.CopyObject(ctx, &awss3.CopyObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(full),
		CopySource:        aws.String(s.bucket + "/" + full), // keys are URL-safe (blob.CheckKey)
		MetadataDirective: types.MetadataDirectiveReplace,
		Metadata:          map[string]string{"narwhal-touched": time.Now().UTC().Format(time.RFC3339)},
	})
	var missing *types.NoSuchKey
	if errors.As(err, &missing) || statusIs(err, http.StatusNotFound) {
		return fmt.Errorf("touch blob %s: %w", key, ci.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("touch blob %s: %w", key, err)
	}
	return nil
}

// List pages through ListObjectsV2 below prefix (S3 answers in key order)
// and stops after listLimit objects; see blob.Store.
func (s *Store) List(ctx context.Context, prefix string) ([]blob.Object, error) {
	if err := blob.CheckPrefix(prefix); err != nil {
		return nil, err
	}
	var out []blob.Object
	p := awss3.NewListObjectsV2Paginator(s.s3, &awss3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(s.listPrefix(prefix))})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list blobs %q: %w", prefix, err)
		}
		for _, o := range page.Contents {
			if len(out) == s.listLimit {
				return out, blob.Truncated(prefix)
			}
			out = append(out, blob.Object{Key: strings.TrimPrefix(aws.ToString(o.Key), s.prefix),
				Size: aws.ToInt64(o.Size), Modified: aws.ToTime(o.LastModified)})
		}
	}
	return out, nil
}

// listPrefix is the S3 prefix of the keys below prefix.
func (s *Store) listPrefix(prefix string) string {
	if prefix == "" {
		return s.prefix
	}
	return s.prefix + strings.TrimSuffix(prefix, "/") + "/"
}

// PresignGet returns a URL that downloads the object with a plain GET, with
// no credentials, for ttl (at most 7 days, S3's limit for a signature): what
// the API redirects an artifact download to. It does not check that the
// object exists; fetching the URL of a missing one answers 404.
func (s *Store) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := blob.CheckKey(key); err != nil {
		return "", err
	}
	if ttl <= 0 || ttl > 7*24*time.Hour {
		return "", fmt.Errorf("presign blob %s: ttl %v, want more than 0 and at most 7 days", key, ttl)
	}
	req, err := s.presign.PresignGetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)},
		awss3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("presign blob %s: %w", key, err)
	}
	return req.URL, nil
}

// statusIs reports whether err is an S3 answer with the HTTP status code.
func statusIs(err error, code int) bool {
	var re interface{ HTTPStatusCode() int }
	return errors.As(err, &re) && re.HTTPStatusCode() == code
}
