package rpc

import (
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// ServiceName is the gRPC name of the runner service, also the service name
// the health service reports on (beside "", the whole server). A test checks
// it against runnerpb.
const ServiceName = "narwhal.runner.v1.Runner"

// Health is the runner's grpc.health.v1 status, shared between the gRPC
// server (which serves it) and runnerd (which flips it when it drains). It is
// safe for concurrent use.
type Health struct {
	hs *health.Server
}

// NewHealth returns a Health that reports SERVING.
func NewHealth() *Health {
	h := &Health{hs: health.NewServer()}
	h.SetServing(true)
	return h
}

// SetServing sets the status of the server and of the runner service:
// SERVING when serving is true, NOT_SERVING otherwise. Watchers are told.
func (h *Health) SetServing(serving bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if serving {
		st = healthpb.HealthCheckResponse_SERVING
	}
	h.hs.SetServingStatus("", st)
	h.hs.SetServingStatus(ServiceName, st)
}
