package apiclient

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/narwhal-ci/narwhal/internal/api"
)

// JobView reads job id as the API shows it (GET /jobs/{id}): the job with
// its steps' cache uses and artifacts (with their download paths).
func (c *Client) JobView(ctx context.Context, id string) (api.JobView, error) {
	var j api.JobView
	return j, c.call(ctx, http.MethodGet, nil, Timeout, &j, "jobs", id)
}

// Artifacts lists the artifacts of job id, expired ones included (GET
// /jobs/{id}/artifacts).
func (c *Client) Artifacts(ctx context.Context, id string) ([]api.ArtifactView, error) {
	var list api.ArtifactList
	return list.Artifacts, c.call(ctx, http.MethodGet, nil, Timeout, &list, "jobs", id, "artifacts")
}

// ErrDigest is the error of a download whose bytes are not the artifact the
// job recorded (another size or SHA-256).
var ErrDigest = errors.New("artifact does not match its record")

// maxRedirects bounds the redirects of a download (the API sends one, to a
// pre-signed URL).
const maxRedirects = 5

// DownloadArtifact writes artifact a of job id to w (GET
// /jobs/{id}/artifacts/{name}), following a redirect to a pre-signed URL
// without the bearer token (that URL carries its own signature), and checks
// the bytes against a's size and SHA-256 as they stream: a mismatch is an
// error matching ErrDigest, after w got the bytes (write w to a temporary
// file and keep it only on success). There is no overall timeout (an
// artifact may be large); the answer's headers must come within Timeout,
// and ctx stops the download.
func (c *Client) DownloadArtifact(ctx context.Context, id string, a api.ArtifactView, w io.Writer) error {
	resp, err := c.openArtifact(ctx, id, a.Name)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), resp.Body)
	if err != nil {
		return fmt.Errorf("download artifact %s: %w", a.Name, err)
	}
	if n != a.Size {
		return fmt.Errorf("download artifact %s: %w: %d bytes, want %d", a.Name, ErrDigest, n, a.Size)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(sum, a.SHA256) {
		return fmt.Errorf("download artifact %s: %w: sha256 %s, want %s", a.Name, ErrDigest, sum, a.SHA256)
	}
	return nil
}

// openArtifact sends the download request and returns a 2xx answer; an
// error answer becomes an *Error.
func (c *Client) openArtifact(ctx context.Context, id, name string) (*http.Response, error) {
	u := c.base.JoinPath(escapeAll(append([]string{"jobs", id, "artifacts"}, strings.Split(name, "/")...))...)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("API request: %w", err)
	}
	req.Header.Set("User-Agent", c.userAgent)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.dl.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u.Redacted(), err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
		return nil, c.errorOf(resp.StatusCode, answer)
	}
	return resp, nil
}

// downloadClient is the HTTP client of downloads: the default transport with
// a bound on the wait for an answer's headers, and redirects that drop the
// token.
func downloadClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = Timeout
	return &http.Client{Transport: t, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) > maxRedirects {
			return fmt.Errorf("more than %d redirects", maxRedirects)
		}
		req.Header.Del("Authorization")
		return nil
	}}
}
