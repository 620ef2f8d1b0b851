// Package webhook is narwhal's GitHub webhook endpoint as an http.Handler: it
// checks a delivery's signature, parses the event and hands the job it names
// to the intake core, answering with a small JSON body (docs/intake.md).
// functions/agent adapts it to API Gateway events with internal/lambdahttp;
// `narwhal dev` mounts it as it is.
package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/intake"
)

// MaxBodyBytes is the largest webhook body accepted: 10 MiB, where API
// Gateway stops (GitHub itself sends up to 25 MB, but a larger body never
// reaches the function), and `narwhal dev` stops at the same size.
const MaxBodyBytes = 10 << 20

// Acceptor makes a job request durable and queued; *intake.Intake is one.
type Acceptor interface {
	Accept(ctx context.Context, deliveryID string, job ci.Job) (intake.Outcome, error)
}

var _ Acceptor = (*intake.Intake)(nil)

// Deps are what the handler uses. Intake and Secrets are required.
type Deps struct {
	Intake  Acceptor
	Secrets SecretSource
	// Logger gets one line per delivery; nil means slog.Default().
	Logger *slog.Logger
	// MaxBody overrides MaxBodyBytes when positive.
	MaxBody int64
}

// Handler answers GitHub webhook deliveries. It is safe for concurrent use.
type Handler struct {
	deps Deps
}

var _ http.Handler = (*Handler)(nil)

// NewHandler returns a handler built from d.
func NewHandler(d Deps) *Handler {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.MaxBody <= 0 {
		d.MaxBody = MaxBodyBytes
	}
	return &Handler{deps: d}
}

// ServeHTTP handles one delivery. Every outcome, rejections included, is
// answered with a JSON body ({"error": ...} for failures) and logged in one
// line. See docs/intake.md for the statuses.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	d := ident{event: r.Header.Get("X-GitHub-Event"), id: r.Header.Get("X-GitHub-Delivery")}
	res, err := h.serve(r, d)
	if err != nil {
		res.status, res.body = failure(err)
	}
	writeJSON(w, res.status, res.body)
	h.log(r.Context(), d, res, err, time.Since(start))
}

// ident is what the headers say of a delivery: its event and ID.
type ident struct{ event, id string }

// result is an answer and what the log line tells of it.
type result struct {
	status  int
	body    any
	ignored string          // why the delivery was ignored
	job     *ci.Job         // the job it named
	outcome *intake.Outcome // what the intake did
}

// failure is the answer to err: its *Error's status and message, or 500 for
// anything else.
func failure(err error) (int, errorBody) {
	var e *Error
	if !errors.As(err, &e) {
		return http.StatusInternalServerError, errorBody{Error: "internal error"}
	}
	return e.Status, errorBody{Error: e.Msg}
}

// maxSizeHint caps the buffer readBody makes before any byte arrived, so
// that a Content-Length alone cannot make it allocate MaxBodyBytes.
const maxSizeHint = 256 << 10

// readBody reads r's body up to the limit, into a buffer of the size the
// request announces (up to maxSizeHint), so that a body is not grown into.
func (h *Handler) readBody(r *http.Request) ([]byte, error) {
	body, err := readAll(io.LimitReader(r.Body, h.deps.MaxBody+1), min(r.ContentLength, h.deps.MaxBody, maxSizeHint))
	if err != nil {
		return nil, fail(http.StatusBadRequest, "could not read the body", err)
	}
	if int64(len(body)) > h.deps.MaxBody {
		return nil, fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", h.deps.MaxBody), nil)
	}
	return body, nil
}

// readAll is io.ReadAll starting with room for sizeHint bytes (and one more,
// so that a body of exactly that size ends without growing the buffer).
func readAll(r io.Reader, sizeHint int64) ([]byte, error) {
	b := make([]byte, 0, max(sizeHint, 511)+1)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	data, err := json.Marshal(body)
	if err != nil { // only our own plain structs are marshalled
		data = []byte(`{"error":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(data)
}
