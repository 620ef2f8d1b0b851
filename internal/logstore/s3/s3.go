// Package s3 is the logstore.Store of the deployed system: the log of job J is
// the objects <prefix>/J/00000000.log, <prefix>/J/00000001.log, ... of one
// bucket, and an object <prefix>/J/complete once it is finished: empty, or
// holding the log's last chunk (PutLast).
// Chunks are written with If-None-Match: * so that a chunk, once stored,
// never changes; S3's strong read-after-write consistency lets Read trust a
// listing.
//
// Callers build the client from config.LoadDefaultConfig. When an endpoint is
// configured (AWS_ENDPOINT_URL for LocalStack or moto), use path-style
// addressing, since bucket subdomains of a local endpoint do not resolve:
//
//	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/logstore"
)

// api is the part of the S3 client the store uses.
type api interface {
	PutObject(ctx context.Context, in *awss3.PutObjectInput, opts ...func(*awss3.Options)) (*awss3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *awss3.GetObjectInput, opts ...func(*awss3.Options)) (*awss3.GetObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *awss3.ListObjectsV2Input, opts ...func(*awss3.Options)) (*awss3.ListObjectsV2Output, error)
	HeadObject(ctx context.Context, in *awss3.HeadObjectInput, opts ...func(*awss3.Options)) (*awss3.HeadObjectOutput, error)
}

// Store is a logstore.Store in an S3 bucket. It is safe for concurrent use.
type Store struct {
	s3     api
	bucket string
	prefix string // "" or ending in "/"
}

var _ logstore.Store = (*Store)(nil)

// New returns a store that keeps logs in bucket under prefix ("" for the
// bucket's root; surrounding slashes are ignored). The bucket must exist.
func New(client *awss3.Client, bucket, prefix string) *Store {
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &Store{s3: client, bucket: bucket, prefix: prefix}
}

// jobPrefix is the key prefix of every object of the job's log.
func (s *Store) jobPrefix(jobID string) string { return s.prefix + jobID + "/" }

// Finish writes the job's empty completion marker, unless it is there: it is
// idempotent, and keeps the last chunk that PutLast stored in the marker.
func (s *Store) Finish(ctx context.Context, jobID string) error {
	if err := logstore.CheckJobID(jobID); err != nil {
		return err
	}
	err := s.putNew(ctx, s.jobPrefix(jobID)+logstore.CompleteName, nil)
	if err != nil && !statusIs(err, http.StatusPreconditionFailed) {
		return fmt.Errorf("finish log of %s: %w", jobID, err)
	}
	return nil
}

// putNew writes the object key with data unless it exists: S3 answers a key
// that does with 412 Precondition Failed.
func (s *Store) putNew(ctx context.Context, key string, data []byte) error {
	_, err := s.s3.PutObject(ctx, &awss3.PutObjectInput{
		Bucket:      aws.String(s.bucket),
		Key:         aws.String(key),
		Body:        bytes.NewReader(data),
		IfNoneMatch: aws.String("*"),
	})
	return err
}

// has reports whether the object key exists, with one HeadObject.
func (s *Store) has(ctx context.Context, key string) (bool, error) {
	_, err := s.s3.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if statusIs(err, http.StatusNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("head %s: %w", key, err)
	}
	return true, nil
}

// get returns the bytes of key in the range rng ("" for the whole object).
func (s *Store) get(ctx context.Context, key, rng string) ([]byte, error) {
	in := &awss3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}
	if rng != "" {
		in.Range = aws.String(rng)
	}
	out, err := s.s3.GetObject(ctx, in, quietChecksum)
	if statusIs(err, http.StatusNotFound) {
		return nil, fmt.Errorf("get %s: %w", key, ci.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return data, nil
}

// quietChecksum stops the SDK from logging, on every ranged GET, that a
// partial object has no checksum to validate.
func quietChecksum(o *awss3.Options) { o.DisableLogOutputChecksumValidationSkipped = true }

// statusIs reports whether err is an S3 response with HTTP status code.
func statusIs(err error, code int) bool {
	var re interface{ HTTPStatusCode() int }
	return errors.As(err, &re) && re.HTTPStatusCode() == code
}
