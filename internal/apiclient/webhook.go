package apiclient

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"

	"github.com/narwhal-ci/narwhal/internal/github"
)

// Webhook is one delivery to send as GitHub sends it.
type Webhook struct {
	URL       string
	Event     string // X-GitHub-Event: push, pull_request, ...
	Delivery  string // X-GitHub-Delivery; a new GUID when empty
	Secret    string // signs the body (X-Hub-Signature-256)
	UserAgent string
}

// WebhookAnswer is what the receiver answered.
type WebhookAnswer struct {
	Status   int    // HTTP status code
	Line     string // "HTTP/1.1 202 Accepted"
	Delivery string // the delivery ID sent
	Body     []byte // the answer, at most 1 MiB
}

// SendWebhook posts body as w describes, signed with w.Secret, and returns
// the answer whatever its status; an error means no answer was read.
func SendWebhook(ctx context.Context, w Webhook, body []byte) (WebhookAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return WebhookAnswer{}, fmt.Errorf("webhook request: %w", err)
	}
	ans := WebhookAnswer{Delivery: w.Delivery}
	if ans.Delivery == "" {
		ans.Delivery = NewGUID()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", w.UserAgent)
	req.Header.Set("X-GitHub-Event", w.Event)
	req.Header.Set("X-GitHub-Delivery", ans.Delivery)
	req.Header.Set(github.SignatureHeader, github.Sign(body, []byte(w.Secret)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return WebhookAnswer{}, fmt.Errorf("send webhook: %w", err)
	}
	defer resp.Body.Close()
	ans.Status, ans.Line = resp.StatusCode, resp.Proto+" "+resp.Status
	if ans.Body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20)); err != nil {
		return WebhookAnswer{}, fmt.Errorf("read webhook answer: %w", err)
	}
	return ans, nil
}

// NewGUID returns a random RFC 4122 version 4 UUID, like GitHub's delivery IDs.
func NewGUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
