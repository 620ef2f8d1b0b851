package devstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/narwhal-ci/narwhal/internal/api"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/intake"
	"github.com/narwhal-ci/narwhal/internal/lambdahttp"
	"github.com/narwhal-ci/narwhal/internal/web"
	"github.com/narwhal-ci/narwhal/internal/webhook"
)

// Paths of the dev server.
const (
	WebhookPath = "/webhook"     // the GitHub webhook
	APIPrefix   = web.DefaultAPI // the REST API, mounted under this prefix
	MetricsPath = "/metrics"     // Prometheus
)

// handler is the dev server's routing: the webhook, the REST API under /api,
// the metrics, and the dashboard at /. The webhook takes at most what API
// Gateway lets through (lambdahttp.MaxBody).
func (s *Stack) handler() http.Handler {
	// The stack outlives its requests and flushes at shutdown, so the
	// Published marks may trail the answers (Intake.MarkLater).
	in := &intake.Intake{Store: s.store, Queue: s.queue, Logger: s.log, MarkLater: true}
	s.intake = in
	hook := webhook.NewHandler(webhook.Deps{Intake: in, Secrets: s.sec.webhookSecrets,
		Logger: s.log, MaxBody: lambdahttp.MaxBody})
	rest := api.New(api.Deps{Jobs: s.store, Runners: s.store, Ops: s.ctl, Logs: s.logs, Secrets: s.vault,
		Artifacts: s.blobs, Queue: queuedJobs{s.store}, Tokens: []string{s.sec.apiToken}, Logger: s.log})
	mux := http.NewServeMux()
	mux.Handle("POST "+WebhookPath, hook)
	mux.Handle(APIPrefix+"/", http.StripPrefix(APIPrefix, rest))
	mux.Handle("GET "+MetricsPath, promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	mux.Handle("/", web.Handler(web.Config{API: APIPrefix, Token: s.sec.apiToken}))
	return mux
}

// queuedJobs is the queue depth of GET /stats, as the store knows it: the
// jobs waiting for a runner, whatever the queue (the in-memory one cannot
// tell). narwhal_queue_depth counts the same.
type queuedJobs struct{ store ci.Store }

// Depth counts the queued jobs; every queue name gets the count of jobs.
func (q queuedJobs) Depth(ctx context.Context, _ string) (int, error) {
	jobs, err := listAll(ctx, q.store, ci.StatusQueued)
	return len(jobs), err
}

// serveHTTP serves until the server is shut down; a failure stops the stack.
func (s *Stack) serveHTTP(stop func(error)) {
	if err := s.srv.Serve(s.lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
		err = fmt.Errorf("http server: %w", err)
		s.fail(err)
		stop(err)
	}
}

// describe fills Info from the listener and the choices made.
func (s *Stack) describe(storeDesc, queueDesc string) Info {
	base := "http://" + browsable(s.lis.Addr())
	return Info{
		Listen: listening(s.lis.Addr()), URL: base + "/", WebhookURL: base + WebhookPath, APIURL: base + APIPrefix,
		MetricsURL: base + MetricsPath, Store: storeDesc, Queue: queueDesc, Dir: s.cfg.Dir,
		GitHub: s.cfg.GitHub.describe(),
	}
}

// listening describes the listen address as it is: a wildcard one is
// reachable from other machines, which people should know.
func listening(addr net.Addr) string {
	host, _, err := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); err == nil && (ip == nil || ip.IsUnspecified()) {
		return addr.String() + " (every interface; --addr 127.0.0.1:PORT keeps it on this machine)"
	}
	return addr.String()
}

// browsable is addr as a browser on this machine reaches it: a wildcard
// listen address becomes 127.0.0.1.
func browsable(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// redactURL hides the password of a URL.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
