package lambdahttp

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// MaxBody is API Gateway's payload limit: larger requests are answered 413.
const MaxBody = 10 << 20

// Gateway serves HTTP requests with a Lambda handler the way API Gateway's
// HTTP API does with payload format 2.0 and the $default route: each request
// becomes an event (NewEvent), the handler's response becomes the answer
// (WriteResponse), and a handler error is a 500 {"message":"Internal Server
// Error"}. It is safe for concurrent use when Invoke is.
type Gateway struct {
	Invoke HandlerFunc
	// Logger gets handler errors and malformed responses; nil means slog.Default().
	Logger *slog.Logger
	// MaxBody overrides the MaxBody limit when positive.
	MaxBody int64
}

// Server returns a Gateway in front of invoke.
func Server(invoke HandlerFunc) http.Handler { return &Gateway{Invoke: invoke} }

// ServeHTTP serves one request with g.Invoke.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	limit := g.MaxBody
	if limit <= 0 {
		limit = MaxBody
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		gatewayError(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	case err != nil:
		gatewayError(w, http.StatusBadRequest, "Bad Request")
		return
	}
	resp, err := g.Invoke(r.Context(), NewEvent(r, body, time.Now()))
	if err != nil {
		g.logger().ErrorContext(r.Context(), "lambda handler failed", "method", r.Method, "path", r.URL.Path, "error", err)
		gatewayError(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	if err := WriteResponse(w, resp); err != nil {
		g.logger().ErrorContext(r.Context(), "malformed lambda response", "method", r.Method, "path", r.URL.Path, "error", err)
	}
}

func (g *Gateway) logger() *slog.Logger {
	if g.Logger != nil {
		return g.Logger
	}
	return slog.Default()
}

// gatewayError answers as API Gateway does when it cannot get an answer
// from the function: {"message": "..."}.
func gatewayError(w http.ResponseWriter, status int, msg string) {
	body, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}
