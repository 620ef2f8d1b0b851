// Package apiclient is the typed client of narwhal's REST API (docs/api.md)
// and the sender of signed webhooks as GitHub sends them: what the CLI and
// `narwhal dev` use to talk to a running narwhal. It holds no state beyond its
// configuration and is safe for concurrent use.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/narwhal-ci/narwhal/internal/api"
)

// Timeouts of API calls. A follow call outlasts the server's long poll.
const (
	Timeout       = 30 * time.Second
	FollowTimeout = api.DefaultFollowWait + 35*time.Second
)

// maxAnswer bounds the answer the client reads.
const maxAnswer = 16 << 20

// Client calls the REST API at Base with Token.
type Client struct {
	base      *url.URL // may carry a path prefix, such as an API Gateway stage
	token     string
	hc        *http.Client
	dl        *http.Client // of downloads: see downloadClient
	userAgent string
}

// New returns a client of the API at base (http(s)://host[:port][/prefix]),
// sending token as a bearer token when it is not empty, and userAgent.
func New(base, token, userAgent string) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("API address %q: want http(s)://host[:port][/prefix]", base)
	}
	return &Client{base: u, token: token, hc: &http.Client{}, dl: downloadClient(), userAgent: userAgent}, nil
}

// Error is an error answer of the API: "404 job 3fa1 not found".
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s", e.Status, e.Message) }

// call sends method to the path made of segments (each escaped) with query q,
// and decodes a 2xx JSON answer into out.
func (c *Client) call(ctx context.Context, method string, q url.Values, timeout time.Duration, out any, segments ...string) error {
	return c.send(ctx, method, q, timeout, nil, out, segments...)
}

// send is call with a JSON body made of in (none when nil).
func (c *Client) send(ctx context.Context, method string, q url.Values, timeout time.Duration, in, out any, segments ...string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := c.base.JoinPath(escapeAll(segments)...)
	u.RawQuery = q.Encode()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("API request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return fmt.Errorf("API request: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u.Redacted(), err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, u.Redacted(), err)
	}
	if resp.StatusCode/100 != 2 {
		return c.errorOf(resp.StatusCode, answer)
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, u.Redacted(), err)
	}
	return nil
}

// escapeAll path-escapes each segment, so that an ID cannot add a level.
func escapeAll(segments []string) []string {
	out := make([]string, len(segments))
	for i, s := range segments {
		out[i] = url.PathEscape(s)
	}
	return out
}

// errorOf turns an error answer into an *Error: our {"error": ...}, API
// Gateway's {"message": ...}, or the status text for anything else.
func (c *Client) errorOf(status int, body []byte) error {
	var e struct{ Error, Message string }
	json.Unmarshal(body, &e)
	msg := e.Error
	if msg == "" {
		msg = e.Message
	}
	if msg == "" {
		msg = strings.ToLower(http.StatusText(status))
	}
	if status == http.StatusUnauthorized && c.token == "" {
		msg += " (set NARWHAL_TOKEN or pass --token)"
	}
	return &Error{Status: status, Message: msg}
}
