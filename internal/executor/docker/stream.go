package docker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
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
func attach(ctx context.Context, api dockerAPI, id string, out *sink) (*stream, error) {
	conn, err := api.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		return nil, fmt.Errorf("attach container: %w", err)
	}
	s := &stream{conn: conn, out: out, done: make(chan error, 1)}
	go func() { s.done <- demux(s.out, conn.Reader) }()
	return s, nil
}

// finish waits for the output of the ended container to end, closes the
// stream and returns the error of writing the output, if any.
func (s *stream) finish(log *slog.Logger) error {
	if awaitDrain(log, s.done, "container output") {
		s.conn.Close()
	} else {
		s.close()
	}
	return s.out.failed()
}

// awaitDrain waits up to drainTimeout for a copy of what to end, reported on
// done, logging a copy that failed or did not end. It reports whether the
// copy ended; if not, the caller must close its source and wait for it.
func awaitDrain(log *slog.Logger, done <-chan error, what string) bool {
	t := time.NewTimer(drainTimeout)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil {
			log.Warn("read "+what, "err", err)
		}
		return true
	case <-t.C:
		log.Warn(what+" did not end; closing it", "after", drainTimeout)
		return false
	}
}

// close closes the stream and waits for the copying goroutine to end, so that
// nothing writes to the writer afterwards.
func (s *stream) close() {
	s.conn.Close()
	<-s.done
}

// sink writes to w until a write fails, then discards the rest, so that a
// failing writer never blocks the container on a full pipe. The attached
// stream and the output pipe (pipe.go) write to it from a goroutine each; it
// hands w one write at a time.
type sink struct {
	mu  sync.Mutex
	w   io.Writer
	err error
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		_, s.err = s.w.Write(p)
	}
	return len(p), nil
}

// failed returns the error of the write that failed, if one did.
func (s *sink) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return fmt.Errorf("write output: %w", s.err)
	}
	return nil
}
