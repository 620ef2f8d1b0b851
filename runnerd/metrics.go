package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metricsServer serves /metrics (the runner's registry) and /healthz (200
// while the runner takes jobs, 503 once it drains) over plain HTTP.
type metricsServer struct {
	lis       net.Listener
	srv       *http.Server
	accepting func() bool
}

// newMetricsServer binds addr; serve starts answering. accepting says
// whether the runner takes jobs, for /healthz. An empty addr, or
// "off", disables it (nil server, nil error).
func newMetricsServer(addr string, reg *prometheus.Registry, accepting func() bool) (*metricsServer, error) {
	if addr == "" || addr == "off" {
		return nil, nil
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listen: %w", err)
	}
	m := &metricsServer{lis: lis, accepting: accepting}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", m.healthz)
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return m, nil
}

func (m *metricsServer) healthz(w http.ResponseWriter, _ *http.Request) {
	if !m.accepting() {
		http.Error(w, "draining", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// Addr is the bound address, or "" when disabled.
func (m *metricsServer) Addr() string {
	if m == nil {
		return ""
	}
	return m.lis.Addr().String()
}

// serve answers until shutdown; it returns at once when disabled.
func (m *metricsServer) serve() error {
	if m == nil {
		return nil
	}
	if err := m.srv.Serve(m.lis); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (m *metricsServer) shutdown(ctx context.Context) {
	if m != nil {
		m.srv.Shutdown(ctx)
	}
}

// close releases the listener of a server that never served.
func (m *metricsServer) close() {
	if m != nil {
		m.lis.Close()
	}
}
