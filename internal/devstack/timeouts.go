package devstack

import (
	"net/http"
	"time"
)

// Limits of the dev server's connections, so that slow or idle clients
// cannot hold them open.
const (
	// DefaultReadTimeout is Config.ReadTimeout's default: a request's headers
	// and body must have arrived within it.
	DefaultReadTimeout = 30 * time.Second
	// headerTimeout bounds the headers alone (at most ReadTimeout).
	headerTimeout = 10 * time.Second
	// idleTimeout closes a kept-alive connection that sends no next request.
	idleTimeout = 2 * time.Minute
	// writeWait bounds a request's handling and answer: more than the REST
	// API's longest wait (a log follow, api.DefaultFollowWait).
	writeWait = 60 * time.Second
	// maxAPIBody is the largest request body of the REST API and the
	// dashboard (the webhook has its own limit, lambdahttp.MaxBody).
	maxAPIBody = 1 << 20
)

// newServer is the dev server with its timeouts: the read timeout covers the
// headers and body of every request (a handler that runs longer, a log
// follow, is not cut by it: TestFollowOutlastsReadTimeout), the write timeout
// the handler and its answer, the idle timeout the wait for a kept-alive
// connection's next request.
func newServer(h http.Handler, readTimeout time.Duration) *http.Server {
	return &http.Server{
		Handler:           limitBodies(h),
		ReadHeaderTimeout: min(headerTimeout, readTimeout),
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeWait,
		IdleTimeout:       idleTimeout,
	}
}

// limitBodies caps request bodies outside the webhook at maxAPIBody.
func limitBodies(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != WebhookPath {
			r.Body = http.MaxBytesReader(w, r.Body, maxAPIBody)
		}
		h.ServeHTTP(w, r)
	})
}
