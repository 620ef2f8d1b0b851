package api

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// ArtifactReader reads the artifacts of jobs from where the runners put
// them; every blob.Store (internal/blob) is one. Open returns the object
// under key, whose bytes are the artifact's file unchanged (so its size and
// SHA-256 are the job record's), and an error matching ci.ErrNotFound for a
// key that holds nothing (never put, or swept). The caller closes it. It
// must be safe for concurrent use and honour ctx.
type ArtifactReader interface {
	Open(ctx context.Context, key string) (io.ReadCloser, error)
}

// presigner is the optional side of an ArtifactReader that can hand out a
// time-limited URL of an object (blob/s3): downloads then go there (302)
// rather than through the API.
type presigner interface {
	PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error)
}

// PresignTTL is how long a pre-signed download URL is valid: long enough to
// start a download, short enough that a leaked URL soon means nothing.
const PresignTTL = 5 * time.Minute

// ArtifactList is the answer of GET /jobs/{id}/artifacts: every artifact of
// the job's steps, in step order, expired ones included.
type ArtifactList struct {
	Artifacts []ArtifactView `json:"artifacts"`
}

// PresignedURL is the answer of GET /jobs/{id}/artifacts/{name}?presign=1:
// where to download the artifact from. URL is a pre-signed URL of the
// artifact store, valid until ExpiresAt, when Presigned; otherwise the
// artifact's download path (relative to the API's base address), which wants
// the bearer token like every other route.
type PresignedURL struct {
	URL       string    `json:"url"`
	Presigned bool      `json:"presigned"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// listArtifacts is GET /jobs/{id}/artifacts.
func listArtifacts(jobs jobGetter) http.Handler {
	return apiFunc(func(r *http.Request) (reply, error) {
		id := r.PathValue("id")
		if err := noQuery(r); err != nil {
			return reply{}, err
		}
		j, err := jobs.GetJob(r.Context(), id)
		if err != nil {
			return reply{}, failure("job "+id, err)
		}
		now := time.Now()
		list := ArtifactList{Artifacts: []ArtifactView{}}
		for _, a := range j.Artifacts() {
			list.Artifacts = append(list.Artifacts, viewArtifact(j.ID, a, now))
		}
		return reply{status: http.StatusOK, body: list}, nil
	})
}

// downloadArtifact is GET /jobs/{id}/artifacts/{name...}: a redirect to a
// pre-signed URL when the store makes them (or, with ?presign=1, that URL as
// JSON), else the artifact streamed from the store.
func downloadArtifact(jobs jobGetter, store ArtifactReader) http.Handler {
	return apiFunc(func(r *http.Request) (reply, error) {
		q, err := parseQuery(r.URL.RawQuery, "presign")
		if err != nil {
			return reply{}, err
		}
		asJSON, err := q.boolean("presign")
		if err != nil {
			return reply{}, err
		}
		a, err := findArtifact(r.Context(), jobs, r.PathValue("id"), r.PathValue("name"))
		if err != nil {
			return reply{}, err
		}
		if store == nil {
			return reply{}, fail(http.StatusNotImplemented, "artifacts are not configured on this deployment (it has no artifact store)", nil)
		}
		if p, ok := store.(presigner); ok {
			return presigned(r.Context(), p, a, asJSON)
		}
		if asJSON {
			return reply{status: http.StatusOK, body: PresignedURL{URL: artifactPath(r.PathValue("id"), a.Name)}}, nil
		}
		return stream(r, store, a)
	})
}

// findArtifact returns the artifact name of job id, with errors for people:
// 404 for an unknown job or name, 410 once it expired.
func findArtifact(ctx context.Context, jobs jobGetter, id, name string) (ci.Artifact, error) {
	j, err := jobs.GetJob(ctx, id)
	if err != nil {
		return ci.Artifact{}, failure("job "+id, err)
	}
	for _, a := range j.Artifacts() {
		if a.Name != name {
			continue
		}
		if expired(a, time.Now()) {
			return ci.Artifact{}, fail(http.StatusGone, fmt.Sprintf("artifact %s of job %s expired at %s",
				name, id, a.ExpiresAt.UTC().Format(time.RFC3339)), nil)
		}
		return a, nil
	}
	return ci.Artifact{}, fail(http.StatusNotFound, fmt.Sprintf("job %s has no artifact %s", id, name), nil)
}

// presigned answers a redirect to a pre-signed URL of a, or that URL as JSON.
func presigned(ctx context.Context, p presigner, a ci.Artifact, asJSON bool) (reply, error) {
	u, err := p.PresignGet(ctx, a.Key, PresignTTL)
	if err != nil {
		return reply{}, fmt.Errorf("presign artifact %s: %w", a.Name, err)
	}
	body := PresignedURL{URL: u, Presigned: true, ExpiresAt: time.Now().Add(PresignTTL).UTC()}
	if asJSON {
		return reply{status: http.StatusOK, body: body}, nil
	}
	return reply{status: http.StatusFound, location: u, body: body}, nil
}

// stream opens a in the store and answers its bytes; a store that no longer
// holds it answers 410. A request whose If-None-Match names the artifact's
// ETag gets 304 without the store being read.
func stream(r *http.Request, store ArtifactReader, a ci.Artifact) (reply, error) {
	if etag := etagOf(a); etag != "" && r.Header.Get("If-None-Match") == etag {
		return reply{raw: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("ETag", etag)
			w.WriteHeader(http.StatusNotModified)
		}}, nil
	}
	rc, err := store.Open(r.Context(), a.Key)
	if errors.Is(err, ci.ErrNotFound) {
		return reply{}, fail(http.StatusGone, fmt.Sprintf("artifact %s is no longer stored", a.Name), err)
	}
	if err != nil {
		return reply{}, fmt.Errorf("open artifact %s: %w", a.Name, err)
	}
	return reply{raw: func(w http.ResponseWriter, r *http.Request) {
		defer rc.Close()
		setDownloadHeaders(w.Header(), a)
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodHead {
			return
		}
		if _, err := io.Copy(w, rc); err != nil {
			if c, ok := w.(causeSetter); ok {
				c.setCause(fmt.Errorf("stream artifact %s: %w", a.Name, err))
			}
		}
	}}, nil
}

// setDownloadHeaders describes a as an attachment named after its base name,
// with its length, and its SHA-256 as ETag and digests (RFC 3230's Digest
// and RFC 9530's Repr-Digest).
func setDownloadHeaders(h http.Header, a ci.Artifact) {
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", fmt.Sprint(a.Size))
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(a.Name)}))
	h.Set("Cache-Control", "private, no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	if etag := etagOf(a); etag != "" {
		sum, _ := hex.DecodeString(a.SHA256)
		b64 := base64.StdEncoding.EncodeToString(sum)
		h.Set("ETag", etag)
		h.Set("Digest", "sha-256="+b64)
		h.Set("Repr-Digest", "sha-256=:"+b64+":")
	}
}

// etagOf is the ETag of a, its quoted SHA-256; "" when the record holds no
// valid one.
func etagOf(a ci.Artifact) string {
	if sum, err := hex.DecodeString(a.SHA256); err != nil || len(sum) != 32 {
		return ""
	}
	return `"` + a.SHA256 + `"`
}
