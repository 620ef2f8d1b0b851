package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// ErrorBody is the body of every error response.
type ErrorBody struct {
	Error string `json:"error"`
}

// reply is a successful answer: a status, a JSON body and an optional
// Location header; or a raw handler that writes an answer of another type.
type reply struct {
	status   int
	body     any
	location string
	raw      http.HandlerFunc // answers instead of the JSON body, when set
}

// httpError is a failed request: the status, the message for the client, and
// the cause for the log line (which may say more than the client sees).
type httpError struct {
	status int
	msg    string
	cause  error
}

func (e *httpError) Error() string { return e.msg }
func (e *httpError) Unwrap() error { return e.cause }

func fail(status int, msg string, cause error) error {
	return &httpError{status: status, msg: msg, cause: cause}
}

// apiFunc is an endpoint: it reads the request and returns the answer or an
// error, which is an *httpError or else answered 500.
type apiFunc func(r *http.Request) (reply, error)

func (f apiFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rep, err := f(r)
	if err != nil {
		writeFailure(w, err)
		return
	}
	if rep.raw != nil {
		rep.raw(w, r)
		return
	}
	if rep.location != "" {
		w.Header().Set("Location", rep.location)
	}
	writeJSON(w, rep.status, rep.body)
}

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeFailure(w, fmt.Errorf("encode response: %w", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// writeFailure answers err: an *httpError with its status and message, any
// other error with 500 and a message that does not leak internals. The cause
// reaches the request's log line.
func writeFailure(w http.ResponseWriter, err error) {
	var he *httpError
	if !errors.As(err, &he) {
		he = &httpError{status: http.StatusInternalServerError, msg: "internal error", cause: err}
	}
	if c, ok := w.(causeSetter); ok {
		c.setCause(he.cause)
	}
	writeJSON(w, he.status, ErrorBody{Error: he.msg})
}

// causeSetter is the request logger's writer: it takes the cause of a
// failure for the log line.
type causeSetter interface{ setCause(error) }

// failure maps an error of a store or of Operations about what (e.g. "job
// 3fa1") to an *httpError; see Operations for the table.
func failure(what string, err error) error {
	switch {
	case errors.Is(err, ci.ErrNotFound):
		return fail(http.StatusNotFound, what+" not found", err)
	case errors.Is(err, ci.ErrIllegalTransition):
		return fail(http.StatusConflict, fmt.Sprintf("%s: %v", what, illegalReason(err)), err)
	case errors.Is(err, ci.ErrConflict):
		return fail(http.StatusConflict, what+" changed concurrently; try again", err)
	case errors.Is(err, ci.ErrNoSnapshot):
		return fail(http.StatusConflict, err.Error()+"; re-run the whole job instead (resubmit without from_step)", err)
	case errors.Is(err, ci.ErrCannotResume):
		return fail(http.StatusConflict, err.Error(), err)
	case errors.Is(err, ci.ErrClosed):
		return fail(http.StatusServiceUnavailable, "shutting down", err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fail(http.StatusServiceUnavailable, "request cancelled or timed out", err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// illegalReason says why the state machine refused, for people.
func illegalReason(err error) string {
	var it *ci.IllegalTransitionError
	if errors.As(err, &it) {
		if it.From.Final() {
			return fmt.Sprintf("already finished (%s)", it.From)
		}
		return fmt.Sprintf("cannot go from %s to %s", it.From, it.To)
	}
	return err.Error()
}
