package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
)

// ensureImage pulls ref unless the engine has it. A positive answer is
// remembered for the life of the Executor (create drops it again if the image
// vanished); a negative one never is.
func (e *Executor) ensureImage(ctx context.Context, ref string) error {
	if _, ok := e.images.Load(ref); ok {
		return nil
	}
	_, err := e.api.ImageInspect(ctx, ref)
	if err == nil {
		e.images.Store(ref, struct{}{})
		return nil
	}
	if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("inspect image %q: %w", ref, err)
	}
	if err := e.pull(ctx, ref); err != nil {
		return err
	}
	e.images.Store(ref, struct{}{})
	return nil
}

// pull fetches ref from its registry. The engine reports failures in the
// progress stream as well as in the response, so the stream is read to its end.
func (e *Executor) pull(ctx context.Context, ref string) error {
	e.log.InfoContext(ctx, "pulling image", "image", ref)
	rc, err := e.api.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return fmt.Errorf("pull image %q: %w", ref, err)
	}
	defer rc.Close()
	if err := pullError(rc); err != nil {
		return fmt.Errorf("pull image %q: %w", ref, err)
	}
	return nil
}

// pullMessage is the part of a pull progress message that tells of failure.
type pullMessage struct {
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
}

// pullError reads a pull progress stream and returns the failure it reports.
func pullError(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var m pullMessage
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read progress: %w", err)
		}
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			return errors.New(m.ErrorDetail.Message)
		}
		if m.Error != "" {
			return errors.New(m.Error)
		}
	}
}
