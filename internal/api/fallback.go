package api

import (
	"fmt"
	"net/http"
	"path"
	"strings"
)

// withJSONFallback serves mux, answering its own 404 (no route) and 405
// (route without this method, with the Allow header) in JSON like every other
// error, where ServeMux would answer in plain text. A path that is not clean
// ("/jobs//logs") is a 404 rather than ServeMux's redirect, whose Location
// would miss any prefix a gateway stripped.
func withJSONFallback(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if !clean(r.URL.Path) {
			pattern = ""
		}
		if pattern != "" {
			mux.ServeHTTP(w, r) // sets the path values that Handler does not
			return
		}
		probe := &headerProbe{header: http.Header{}}
		h.ServeHTTP(probe, r)
		if allow := probe.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		switch probe.status {
		case http.StatusMethodNotAllowed:
			writeFailure(w, fail(probe.status, fmt.Sprintf("method %s not allowed on %s", r.Method, r.URL.Path), nil))
		default:
			writeFailure(w, fail(http.StatusNotFound, fmt.Sprintf("no route %s %s", r.Method, r.URL.Path), nil))
		}
	})
}

// clean reports whether p has no empty, "." or ".." segments.
func clean(p string) bool {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}

// headerProbe records what ServeMux's own 404/405 handlers would answer and
// drops their plain-text body.
type headerProbe struct {
	header http.Header
	status int
}

func (p *headerProbe) Header() http.Header         { return p.header }
func (p *headerProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *headerProbe) WriteHeader(status int)      { p.status = status }
