package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"

	"github.com/narwhal-ci/narwhal/internal/executor"
)

// ensureImage makes sure the engine has ref for a job holding creds (nil
// for the executor's own containers).
//
// An image of a registry host the job has credentials for is pulled with
// them every time (cached layers make that quick), so access is checked
// against this job's credentials, not another's. An image once pulled with
// credentials is pulled again, without, by a job that has none for its
// host, which fails unless the registry lets anyone pull it: a private image
// in the engine's cache does not serve a job that could not pull it. Any
// other image is pulled only when missing; a positive answer is remembered
// for the life of the Executor (create drops it again if the image
// vanished); a negative one never is.
func (e *Executor) ensureImage(ctx context.Context, ref string, creds []executor.RegistryAuth) error {
	host := imageHost(ref)
	if c, ok := credentialFor(creds, host); ok {
		if err := e.pull(ctx, ref, host, &c); err != nil {
			return err
		}
		e.private.Store(ref, struct{}{})
		return nil
	}
	if _, private := e.private.Load(ref); private && creds != nil {
		return e.pull(ctx, ref, host, nil)
	}
	return e.ensurePublic(ctx, ref, host)
}

// ensurePublic pulls ref without credentials unless the engine has it.
func (e *Executor) ensurePublic(ctx context.Context, ref, host string) error {
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
	if err := e.pull(ctx, ref, host, nil); err != nil {
		return err
	}
	e.images.Store(ref, struct{}{})
	return nil
}

// imageHost is the registry host of an image reference ("docker.io" for
// Docker Hub's short names).
func imageHost(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ""
	}
	return reference.Domain(named)
}

// credentialFor returns the credential for host, compared without case.
func credentialFor(creds []executor.RegistryAuth, host string) (executor.RegistryAuth, bool) {
	for _, c := range creds {
		if host != "" && strings.EqualFold(c.Host, host) {
			return c, true
		}
	}
	return executor.RegistryAuth{}, false
}

// pull fetches ref from its registry, with c when not nil (the Docker SDK's
// RegistryAuth: base64 JSON of registry.AuthConfig, sent to the engine in
// a header, never to a container). The engine reports failures in the
// progress stream as well as in the response, so the stream is read to its
// end.
func (e *Executor) pull(ctx context.Context, ref, host string, c *executor.RegistryAuth) error {
	e.log.InfoContext(ctx, "pulling image", "image", ref, "with_credentials", c != nil)
	opts := image.PullOptions{}
	if c != nil {
		auth, err := registry.EncodeAuthConfig(registry.AuthConfig{Username: c.Username, Password: c.Password, ServerAddress: c.Host})
		if err != nil {
			return fmt.Errorf("pull image %q: encode credentials: %w", ref, err)
		}
		opts.RegistryAuth = auth
	}
	rc, err := e.api.ImagePull(ctx, ref, opts)
	if err == nil {
		defer rc.Close()
		err = pullError(rc)
	}
	if err != nil {
		return pullFailure(ref, host, c, err)
	}
	return nil
}

// pullFailure explains a failed pull; a refusal by the registry says what
// the repository's owner can do about it.
func pullFailure(ref, host string, c *executor.RegistryAuth, err error) error {
	if !authFailure(err) {
		return fmt.Errorf("pull image %q: %w", ref, err)
	}
	if c == nil {
		return fmt.Errorf("pull image %q: registry %s requires authentication and this job has no credentials for it "+
			"(add them with `narwhal registry add`; pull requests from forks get none): %w", ref, host, err)
	}
	return fmt.Errorf("pull image %q: registry %s refused the repository's credentials (user %q): %w", ref, host, c.Username, err)
}

// authFailure reports whether a pull failed because the registry wants (other)
// credentials.
func authFailure(err error) bool {
	if cerrdefs.IsUnauthorized(err) || cerrdefs.IsPermissionDenied(err) {
		return true
	}
	msg := strings.ToLower(err.Error())
	for _, s := range []string{"no basic auth credentials", "unauthorized", "authentication required", "denied"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
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
