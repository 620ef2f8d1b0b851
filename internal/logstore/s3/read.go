package s3

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/logstore"
)

// Read returns up to limit bytes of the job's log from offset (see
// logstore.Store): it lists the job's objects (chunks with their sizes and the
// completion marker, in key order, so a listing that shows the marker shows
// every chunk), maps the offset onto the chunks and GETs the byte ranges.
func (s *Store) Read(ctx context.Context, jobID string, offset int64, limit int) ([]byte, bool, error) {
	data, complete, _, err := s.ReadTimed(ctx, jobID, offset, limit)
	return data, complete, err
}

// ReadTimed is Read that also returns the chunks it listed, with their
// LastModified times (whole seconds); see logstore.Timed.
func (s *Store) ReadTimed(ctx context.Context, jobID string, offset int64, limit int) ([]byte, bool, []logstore.Chunk, error) {
	if err := logstore.CheckRead(jobID, offset, limit); err != nil {
		return nil, false, nil, err
	}
	chunks, finished, err := s.list(ctx, jobID)
	if err != nil {
		return nil, false, nil, fmt.Errorf("read log of %s: %w", jobID, err)
	}
	if !finished && len(chunks) == 0 {
		return nil, false, nil, fmt.Errorf("log of %s: %w", jobID, ci.ErrNotFound)
	}
	spans, total := logstore.Plan(chunks, offset, limit)
	var data []byte
	for _, sp := range spans {
		part, err := s.readSpan(ctx, jobID, sp)
		if err != nil {
			return nil, false, nil, fmt.Errorf("read log of %s: %w", jobID, err)
		}
		data = append(data, part...)
	}
	return data, logstore.Complete(finished, offset, len(data), total), chunks, nil
}

// list returns the job's chunks in seq order, the completion marker's bytes
// last, and whether it is finished.
func (s *Store) list(ctx context.Context, jobID string) ([]logstore.Chunk, bool, error) {
	p := s.jobPrefix(jobID)
	pages := awss3.NewListObjectsV2Paginator(s.s3, &awss3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(p),
	})
	var chunks []logstore.Chunk
	var marker *types.Object
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("list: %w", err)
		}
		for _, o := range page.Contents {
			name := strings.TrimPrefix(aws.ToString(o.Key), p)
			if seq, ok := logstore.ParseChunkName(name); ok {
				chunks = append(chunks, logstore.Chunk{Seq: seq, Size: aws.ToInt64(o.Size), Written: aws.ToTime(o.LastModified)})
			}
			if name == logstore.CompleteName {
				marker = &o
			}
		}
	}
	if marker == nil {
		return chunks, false, nil // keys come sorted, and chunk names sort by seq
	}
	return logstore.WithMarker(chunks, aws.ToInt64(marker.Size), aws.ToTime(marker.LastModified)), true, nil
}

func (s *Store) readSpan(ctx context.Context, jobID string, sp logstore.Span) ([]byte, error) {
	key := s.jobPrefix(jobID) + sp.File()
	rng := fmt.Sprintf("bytes=%d-%d", sp.Off, sp.Off+sp.Len-1)
	data, err := s.get(ctx, key, rng)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != sp.Len {
		return nil, fmt.Errorf("get %s %s: %d bytes, want %d", key, rng, len(data), sp.Len)
	}
	return data, nil
}
