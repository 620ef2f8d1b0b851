// Package agent is the webhook intake function: it translates API Gateway
// events (HTTP API payload 2.0 and REST payload 1.0) into calls of the
// intake core and its answers back into responses. functions/agent wires it
// into Lambda; `narwhal dev` and the tests call it in-process.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/github"
	"github.com/narwhal-ci/narwhal/internal/intake"
)

// MaxBodyBytes is the largest webhook body accepted (GitHub caps payloads at
// 25 MB).
const MaxBodyBytes = 25 << 20

// Acceptor makes a job request durable and queued; *intake.Intake is one.
type Acceptor interface {
	Accept(ctx context.Context, deliveryID string, job ci.Job) (intake.Outcome, error)
}

var _ Acceptor = (*intake.Intake)(nil)

// Deps are what the handler uses. Intake and Secrets are required.
type Deps struct {
	Intake  Acceptor
	Secrets SecretSource
	// Logger gets one line per invocation; nil means slog.Default().
	Logger *slog.Logger
	// MaxBody overrides MaxBodyBytes when positive.
	MaxBody int
}

// Handler answers GitHub webhook deliveries. It is safe for concurrent use.
type Handler struct {
	deps Deps
}

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

// Invoke handles one API Gateway event, either payload version, and answers
// in the HTTP API (2.0) shape. Every outcome, rejections included, is a
// response with a JSON body; the error is always nil, so that Lambda never
// retries a delivery that API Gateway already answered. See docs/intake.md
// for the statuses.
func (h *Handler) Invoke(ctx context.Context, raw json.RawMessage) (events.APIGatewayV2HTTPResponse, error) {
	resp, _ := h.handle(ctx, raw)
	return resp, nil
}

// Lambda is Invoke for lambda.Start: it answers a REST (1.0) event in the
// 1.0 response shape and an HTTP API (2.0) event in the 2.0 shape.
func (h *Handler) Lambda(ctx context.Context, raw json.RawMessage) (any, error) {
	resp, v1 := h.handle(ctx, raw)
	if v1 {
		return v1Response(resp), nil
	}
	return resp, nil
}

func (h *Handler) handle(ctx context.Context, raw json.RawMessage) (events.APIGatewayV2HTTPResponse, bool) {
	start := time.Now()
	req, f := decodeRequest(raw, h.deps.MaxBody)
	line := logLine{event: req.header("X-GitHub-Event"), delivery: req.header("X-GitHub-Delivery")}
	var rep reply
	if f == nil {
		rep, f = h.serve(ctx, req, &line)
	}
	if f != nil {
		rep = reply{status: f.status, body: errorBody{Error: f.msg}}
		line.err = f.msg
		if f.cause != nil {
			line.err += ": " + f.cause.Error()
		}
	}
	line.status = rep.status
	h.log(ctx, line, time.Since(start))
	return v2Response(rep), req.v1
}

// serve checks and parses a decoded request and hands a job to the intake.
func (h *Handler) serve(ctx context.Context, req request, line *logLine) (reply, *failure) {
	secrets, err := h.deps.Secrets.Secrets(ctx)
	if err != nil {
		return reply{}, fail(http.StatusInternalServerError, "webhook secret unavailable", err)
	}
	if err := github.VerifySignature(req.body, req.header(github.SignatureHeader), secrets); err != nil {
		msg := "bad signature"
		if errors.Is(err, github.ErrNoSignature) {
			msg = "missing signature"
		}
		return reply{}, fail(http.StatusUnauthorized, msg, err)
	}
	if line.event == "" {
		return reply{}, fail(http.StatusBadRequest, "missing X-GitHub-Event header", nil)
	}
	if line.delivery != "" {
		if err := ci.CheckDeliveryID(line.delivery); err != nil {
			return reply{}, fail(http.StatusBadRequest, "bad X-GitHub-Delivery header: "+err.Error(), nil)
		}
	}
	payload, f := req.payload()
	if f != nil {
		return reply{}, f
	}
	res, err := github.ParseEvent(line.event, payload)
	if err != nil {
		return reply{}, fail(http.StatusBadRequest, "malformed payload", err)
	}
	return h.act(ctx, res, line)
}

// act carries out a parsed delivery.
func (h *Handler) act(ctx context.Context, res github.Result, line *logLine) (reply, *failure) {
	switch res.Kind {
	case github.KindPing:
		return reply{http.StatusOK, pongBody{Pong: true}}, nil
	case github.KindIgnored:
		line.ignored = res.Reason
		return reply{http.StatusAccepted, ignoredBody{Ignored: res.Reason}}, nil
	}
	line.job = &res.Job
	out, err := h.deps.Intake.Accept(ctx, line.delivery, res.Job)
	if errors.Is(err, ci.ErrBadDelivery) {
		return reply{}, fail(http.StatusBadRequest, "bad X-GitHub-Delivery header: "+err.Error(), nil)
	}
	if err != nil {
		return reply{}, fail(http.StatusInternalServerError, "could not store the job", err)
	}
	line.outcome = &out
	if out.Duplicate {
		return reply{http.StatusOK, duplicateBody{Duplicate: true, JobID: out.JobID}}, nil
	}
	return reply{http.StatusAccepted, createdBody{JobID: out.JobID, Status: string(ci.StatusQueued), Published: out.Published}}, nil
}
