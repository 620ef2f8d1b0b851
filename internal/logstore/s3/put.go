package s3

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/logstore"
)

// PutChunk stores chunk seq of the job's log (see logstore.Store). It costs
// one listing, which shows whether chunks seq-1 and seq and the completion
// marker exist, and one conditional PutObject; a re-put also reads the
// stored chunk to compare it.
func (s *Store) PutChunk(ctx context.Context, jobID string, seq int, data []byte) error {
	if err := logstore.CheckPut(jobID, seq); err != nil {
		return err
	}
	n, err := s.neighbours(ctx, jobID, seq)
	if err != nil {
		return fmt.Errorf("put chunk %d of %s: %w", seq, jobID, err)
	}
	switch {
	case n.this:
		return s.samePut(ctx, jobID, seq, data)
	case n.finished:
		return fmt.Errorf("put chunk %d of %s: %w", seq, jobID, logstore.ErrFinished)
	case seq > 0 && !n.prev:
		return fmt.Errorf("put chunk %d of %s before chunk %d: %w", seq, jobID, seq-1, logstore.ErrOutOfOrder)
	}
	err = s.putNew(ctx, s.jobPrefix(jobID)+logstore.ChunkName(seq), data)
	if statusIs(err, http.StatusPreconditionFailed) { // written meanwhile
		return s.samePut(ctx, jobID, seq, data)
	}
	if err != nil {
		return fmt.Errorf("put chunk %d of %s: %w", seq, jobID, err)
	}
	return nil
}

// PutLast stores chunk seq as the last of the job's log, in the completion
// marker (see logstore.Store). It costs a HeadObject of chunk seq, which must
// not be an ordinary chunk, and of chunk seq-1 when seq > 0, which must be,
// and one conditional PutObject of the marker: where PutChunk and Finish
// cost a listing and two PutObjects, all three at S3's higher request price.
func (s *Store) PutLast(ctx context.Context, jobID string, seq int, data []byte) error {
	if len(data) == 0 && logstore.CheckPut(jobID, seq) == nil {
		return s.Finish(ctx, jobID)
	}
	if err := logstore.CheckPut(jobID, seq); err != nil {
		return err
	}
	if err := s.checkLast(ctx, jobID, seq); err != nil {
		return err
	}
	err := s.putNew(ctx, s.jobPrefix(jobID)+logstore.CompleteName, data)
	if statusIs(err, http.StatusPreconditionFailed) { // finished, or a re-put
		return s.sameLast(ctx, jobID, seq, data)
	}
	if err != nil {
		return fmt.Errorf("put last chunk %d of %s: %w", seq, jobID, err)
	}
	return nil
}

// checkLast fails unless chunks 0 … seq-1, and not seq, are ordinary chunks:
// chunks are written in order, so chunk seq-1 stands for those before it.
func (s *Store) checkLast(ctx context.Context, jobID string, seq int) error {
	p := s.jobPrefix(jobID)
	this, err := s.has(ctx, p+logstore.ChunkName(seq))
	if err != nil {
		return fmt.Errorf("put last chunk %d of %s: %w", seq, jobID, err)
	}
	if this {
		return fmt.Errorf("last chunk %d of %s is stored as an ordinary chunk: %w", seq, jobID, ci.ErrConflict)
	}
	if seq == 0 {
		return nil
	}
	prev, err := s.has(ctx, p+logstore.ChunkName(seq-1))
	if err != nil {
		return fmt.Errorf("put last chunk %d of %s: %w", seq, jobID, err)
	}
	if !prev {
		return fmt.Errorf("put last chunk %d of %s before chunk %d: %w", seq, jobID, seq-1, logstore.ErrOutOfOrder)
	}
	return nil
}

// sameLast answers a PutLast that found the marker there: nil when it holds
// data (a re-put), ErrFinished when it is empty (Finish came first),
// ci.ErrConflict otherwise.
func (s *Store) sameLast(ctx context.Context, jobID string, seq int, data []byte) error {
	stored, err := s.get(ctx, s.jobPrefix(jobID)+logstore.CompleteName, "")
	switch {
	case err != nil:
		return fmt.Errorf("put last chunk %d of %s again: %w", seq, jobID, err)
	case len(stored) == 0:
		return fmt.Errorf("put last chunk %d of %s: %w", seq, jobID, logstore.ErrFinished)
	case !bytes.Equal(stored, data):
		return fmt.Errorf("last chunk %d of %s exists with other data: %w", seq, jobID, ci.ErrConflict)
	}
	return nil
}

// samePut compares a re-put with the stored chunk: nil when equal,
// ci.ErrConflict otherwise.
func (s *Store) samePut(ctx context.Context, jobID string, seq int, data []byte) error {
	stored, err := s.get(ctx, s.jobPrefix(jobID)+logstore.ChunkName(seq), "")
	if err != nil {
		return fmt.Errorf("put chunk %d of %s again: %w", seq, jobID, err)
	}
	if !bytes.Equal(stored, data) {
		return fmt.Errorf("chunk %d of %s exists with other data: %w", seq, jobID, ci.ErrConflict)
	}
	return nil
}

// neighbourhood says which objects around a new chunk exist.
type neighbourhood struct {
	prev, this, finished bool
}

// neighbours lists at most three keys starting at chunk seq-1. Chunks are
// written in order, so when chunk seq does not exist no later chunk does
// either, and the completion marker (which sorts after every chunk name)
// shows up in the same short listing.
func (s *Store) neighbours(ctx context.Context, jobID string, seq int) (neighbourhood, error) {
	p := s.jobPrefix(jobID)
	in := &awss3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(p), MaxKeys: aws.Int32(3)}
	if seq >= 2 {
		in.StartAfter = aws.String(p + logstore.ChunkName(seq-2))
	}
	out, err := s.s3.ListObjectsV2(ctx, in)
	if err != nil {
		return neighbourhood{}, fmt.Errorf("list: %w", err)
	}
	var n neighbourhood
	for _, o := range out.Contents {
		switch strings.TrimPrefix(aws.ToString(o.Key), p) {
		case logstore.ChunkName(seq - 1):
			n.prev = true
		case logstore.ChunkName(seq):
			n.this = true
		case logstore.CompleteName:
			n.finished = true
		}
	}
	return n, nil
}
