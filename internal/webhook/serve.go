package webhook

import (
	"errors"
	"net/http"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/github"
)

// serve checks and parses one delivery and hands its job to the intake.
func (h *Handler) serve(r *http.Request, d ident) (result, error) {
	body, err := h.readBody(r)
	if err != nil {
		return result{}, err
	}
	secrets, err := h.deps.Secrets.Secrets(r.Context())
	if err != nil {
		return result{}, fail(http.StatusInternalServerError, "webhook secret unavailable", err)
	}
	if err := github.VerifySignature(body, r.Header.Get(github.SignatureHeader), secrets); err != nil {
		msg := "bad signature"
		if errors.Is(err, github.ErrNoSignature) {
			msg = "missing signature"
		}
		return result{}, fail(http.StatusUnauthorized, msg, err)
	}
	if d.event == "" {
		return result{}, fail(http.StatusBadRequest, "missing X-GitHub-Event header", nil)
	}
	if d.id != "" {
		if err := ci.CheckDeliveryID(d.id); err != nil {
			return result{}, fail(http.StatusBadRequest, "bad X-GitHub-Delivery header: "+err.Error(), nil)
		}
	}
	payload, err := payloadOf(r.Header.Get("Content-Type"), body)
	if err != nil {
		return result{}, err
	}
	parsed, err := github.ParseEvent(d.event, payload)
	if err != nil {
		return result{}, fail(http.StatusBadRequest, "malformed payload", err)
	}
	return h.act(r, d, parsed)
}

// act carries out a parsed delivery.
func (h *Handler) act(r *http.Request, d ident, parsed github.Result) (result, error) {
	switch parsed.Kind {
	case github.KindPing:
		return result{status: http.StatusOK, body: pongBody{Pong: true}}, nil
	case github.KindIgnored:
		return result{status: http.StatusAccepted, body: ignoredBody{Ignored: parsed.Reason}, ignored: parsed.Reason}, nil
	}
	out, err := h.deps.Intake.Accept(r.Context(), d.id, parsed.Job)
	if errors.Is(err, ci.ErrBadDelivery) {
		return result{job: &parsed.Job}, fail(http.StatusBadRequest, "bad X-GitHub-Delivery header: "+err.Error(), nil)
	}
	if err != nil {
		return result{job: &parsed.Job}, fail(http.StatusInternalServerError, "could not store the job", err)
	}
	res := result{status: http.StatusAccepted, job: &parsed.Job, outcome: &out,
		body: createdBody{JobID: out.JobID, Status: string(ci.StatusQueued), Published: out.Published}}
	if out.Duplicate {
		res.status, res.body = http.StatusOK, duplicateBody{Duplicate: true, JobID: out.JobID}
	}
	return res, nil
}

// Response bodies. They are part of the webhook's HTTP contract (docs/intake.md).
type (
	pongBody struct {
		Pong bool `json:"pong"`
	}
	createdBody struct {
		JobID     string `json:"job_id"`
		Status    string `json:"status"`
		Published bool   `json:"published"`
	}
	duplicateBody struct {
		Duplicate bool   `json:"duplicate"`
		JobID     string `json:"job_id"`
	}
	ignoredBody struct {
		Ignored string `json:"ignored"`
	}
	errorBody struct {
		Error string `json:"error"`
	}
)
