// Package web is narwhal's dashboard: one page of plain HTML, CSS and
// JavaScript embedded in the binary (no build step, nothing fetched from
// another origin) that reads the REST API of internal/api from the browser:
// jobs with live status and filters, a job's step timeline with its cache
// hits and misses, its artifacts with download links and its live log,
// runners with their disk use and a drain button, the figures of GET /stats,
// and a repository's
// secrets and registry credentials by name (never a value) with add and
// delete forms.
//
// The API wants a bearer token. Handler writes it into the page only for
// requests that come from this machine and name it (ShareToken); anyone else
// gets the page without it and is asked to paste it. That is a convenience for
// `narwhal dev` on a workstation: in a deployment, serve the page without a
// token. docs/dev.md describes the trade-off.
package web

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"strings"
)

//go:embed static
var files embed.FS

// DefaultAPI is the path the dashboard expects the REST API under.
const DefaultAPI = "/api"

// Config is what the dashboard is told about the API.
type Config struct {
	// API is the path prefix of the REST API as the browser sees it, on the
	// same origin as the page; "" means DefaultAPI.
	API string
	// Token is the API's bearer token, written into the page for requests
	// that ShareToken accepts. "" writes none.
	Token string
	// ShareToken decides whether a request gets the token in its page; nil
	// means FromLoopback.
	ShareToken func(r *http.Request) bool
}

// contentSecurity allows the page to load only from its own origin: no
// inline script, no external URL, no framing.
const contentSecurity = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// Handler serves the dashboard: the page at / (and /index.html) and its
// assets under /static/. Mount it at the root of the server; other paths
// are 404.
func Handler(cfg Config) http.Handler {
	if cfg.API == "" {
		cfg.API = DefaultAPI
	}
	if cfg.ShareToken == nil {
		cfg.ShareToken = FromLoopback
	}
	page := template.Must(template.ParseFS(files, "static/index.html"))
	static, _ := fs.Sub(files, "static") // cannot fail: the directory is embedded
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /{$}", cfg.servePage(page))
	mux.HandleFunc("GET /index.html", cfg.servePage(page))
	return secure(mux)
}

// servePage renders the page, with the token when the request may have it.
func (cfg Config) servePage(page *template.Template) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		data := struct{ API, Token string }{API: cfg.API}
		if cfg.Token != "" && cfg.ShareToken(r) {
			data.Token = cfg.Token
		}
		var buf bytes.Buffer
		if err := page.Execute(&buf, data); err != nil {
			http.Error(w, "render dashboard: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store") // it may carry the token
		w.Write(buf.Bytes())
	}
}

// secure adds the headers every dashboard response carries.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurity)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if h.Get("Cache-Control") == "" {
			h.Set("Cache-Control", "no-cache")
		}
		next.ServeHTTP(w, r)
	})
}

// FromLoopback reports whether r comes from this machine and names it: the
// peer is a loopback address and so is the Host the browser asked for
// (localhost or a loopback IP). The second check keeps a web page on another
// origin whose name was re-bound to 127.0.0.1 (DNS rebinding) from reading
// the token.
func FromLoopback(r *http.Request) bool {
	peer, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil || !isLoopback(peer) {
		return false
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return isLoopback(strings.Trim(host, "[]"))
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
