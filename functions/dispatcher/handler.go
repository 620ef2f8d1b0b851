package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/narwhal-ci/narwhal/internal/mqevent"

	"github.com/aws/aws-lambda-go/events"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/dispatch"
	"github.com/narwhal-ci/narwhal/internal/lambdahttp"
	"github.com/narwhal-ci/narwhal/internal/store/writeback"
)

// core is what the handler drives: the dispatcher's entry points
// (*dispatch.Dispatcher implements it).
type core interface {
	HandleJob(ctx context.Context, dl ci.Delivery) error
	HandleEvent(ctx context.Context, dl ci.Delivery) error
	Monitor(ctx context.Context) (dispatch.MonitorResult, error)
}

var _ core = (*dispatch.Dispatcher)(nil)

// handler is the dispatcher's one Lambda handler. Three triggers share the
// function, and the event's shape says which fired:
//
//	Amazon MQ batch (eventSource "aws:rmq")   → HandleJob / HandleEvent per message
//	EventBridge schedule ("Scheduled Event")  → Monitor
//	API Gateway HTTP API (version "2.0")      → the REST API
type handler struct {
	core   core
	api    lambdahttp.HandlerFunc
	prefix string // NARWHAL_AMQP_PREFIX, in front of the queue names
	// pass, when set, is the store core writes through: a batch of runner
	// reports is applied in one pass of it (consume.go).
	pass *writeback.Store
	log  *slog.Logger
}

// sniff holds the fields that tell the events apart.
type sniff struct {
	EventSource    string          `json:"eventSource"`
	DetailType     string          `json:"detail-type"`
	Source         string          `json:"source"`
	Version        string          `json:"version"`
	RequestContext json.RawMessage `json:"requestContext"`
}

// errUnknownEvent: the payload is none of the three triggers.
var errUnknownEvent = errors.New("not an Amazon MQ, EventBridge schedule or HTTP API event")

// Invoke handles one invocation. An MQ batch returns an error when any of
// its messages failed, so that the event source returns the whole batch to
// the queue (the handlers are idempotent); a failed monitor returns its
// error; HTTP requests always get an answer.
func (h *handler) Invoke(ctx context.Context, raw json.RawMessage) (any, error) {
	var s sniff
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	switch {
	case s.EventSource == mqevent.EventSource:
		var ev events.RabbitMQEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("decode MQ event: %w", err)
		}
		return nil, h.batch(ctx, ev)
	case s.DetailType == "Scheduled Event" && s.Source == "aws.events":
		return h.monitor(ctx)
	case s.Version == "2.0" && len(s.RequestContext) > 0:
		var req events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil, fmt.Errorf("decode HTTP API event: %w", err)
		}
		return h.api(ctx, req)
	}
	return nil, errUnknownEvent
}

func (h *handler) monitor(ctx context.Context) (dispatch.MonitorResult, error) {
	res, err := h.core.Monitor(ctx)
	log := h.log.With("runners_offline", res.RunnersOffline, "jobs_requeued", res.JobsRequeued,
		"jobs_lost", res.JobsLost, "jobs_timed_out", res.JobsTimedOut, "republished", res.Republished,
		"artifacts_expired", res.ArtifactsExpired)
	if err != nil {
		log.Error("monitor failed", "err", err)
		return res, fmt.Errorf("monitor: %w", err)
	}
	log.Info("monitor done")
	return res, nil
}
