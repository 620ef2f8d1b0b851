package docker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
)

// drainTimeout bounds how long the output of an ended container may take to
// arrive: the engine closes the stream when the container's pipes close, so
// only output still in flight is waited for.
const drainTimeout = 10 * time.Second

// stream copies the attached stdout and stderr of a container to a writer from
// a single goroutine.
type stream struct {
	conn types.HijackedResponse
	out  *sink
	done chan error
}

// attach attaches to the container's stdout and stderr (before it starts, so
// that nothing is missed) and starts copying them to out.
func attach(ctx context.Context, api dockerAPI, id string, out io.Writer) (*stream, error) {
	conn, err := api.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		return nil, fmt.Errorf("attach container: %w", err)
	}
	s := &stream{conn: conn, out: &sink{w: out}, done: make(chan error, 1)}
	go func() { s.done <- demux(s.out, conn.Reader) }()
	return s, nil
}

// finish waits for the output of the ended container to end, closes the
// stream and returns the error of writing the output, if any.
func (s *stream) finish(log *slog.Logger) error {
	t := time.NewTimer(drainTimeout)
	defer t.Stop()
	select {
	case err := <-s.done:
		s.conn.Close()
		if err != nil {
			log.Warn("read container output", "err", err)
		}
	case <-t.C:
		log.Warn("container output did not end; closing it", "after", drainTimeout)
		s.close()
	}
	if s.out.err != nil {
		return fmt.Errorf("write output: %w", s.out.err)
	}
	return nil
}

// close closes the stream and waits for the copying goroutine to end, so that
// nothing writes to the writer afterwards.
func (s *stream) close() {
	s.conn.Close()
	<-s.done
}

// sink writes to w until a write fails, then discards the rest, so that a
// failing writer never blocks the container on a full pipe.
type sink struct {
	w   io.Writer
	err error
}

func (s *sink) Write(p []byte) (int, error) {
	if s.err == nil {
		_, s.err = s.w.Write(p)
	}
	return len(p), nil
}
