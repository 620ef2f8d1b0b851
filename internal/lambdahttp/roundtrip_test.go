package lambdahttp_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/lambdahttp"
)

// echo answers what it received, sets cookies, and serves a binary body on
// /bin: enough to show that the round trip loses nothing.
func echo() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/bin", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write([]byte{0, 0xff, 0xfe, 'x'})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var cookies []string
		for _, c := range r.Cookies() {
			cookies = append(cookies, c.Name+"="+c.Value)
		}
		http.SetCookie(w, &http.Cookie{Name: "one", Value: "1"})
		http.SetCookie(w, &http.Cookie{Name: "two", Value: "2", HttpOnly: true})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTeapot)
		json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "path": r.URL.Path, "rawPath": r.URL.EscapedPath(),
			"query": r.URL.RawQuery, "accept": r.Header.Get("Accept"), "custom": r.Header.Get("X-Custom"),
			"cookies": cookies, "body": base64.StdEncoding.EncodeToString(body), "length": r.ContentLength})
	})
	return mux
}

type answer struct {
	status  int
	ctype   string
	cookies []string
	body    string
}

func fetch(t *testing.T, base, method, path, ctype, body string) answer {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Custom", "é ok")
	req.AddCookie(&http.Cookie{Name: "session", Value: "abc"})
	req.AddCookie(&http.Cookie{Name: "theme", Value: "dark"})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Values("Set-Cookie"), string(b)}
}

// TestRoundTrip serves the same requests directly and through
// Server(Handler(h)), net/http → event → net/http → response → net/http, and
// expects the same answers.
func TestRoundTrip(t *testing.T) {
	direct := httptest.NewServer(echo())
	defer direct.Close()
	g := &lambdahttp.Gateway{Invoke: lambdahttp.Handler(echo()), Logger: discard()}
	bridged := httptest.NewServer(g)
	defer bridged.Close()
	requests := []struct{ method, path, ctype, body string }{
		{"GET", "/jobs?status=failure&limit=2&limit=3", "", ""},
		{"GET", "/jobs/a%2Fb/logs", "", ""},
		{"POST", "/webhook", "application/json", `{"zen":"Keep it logically awesome."}`},
		{"POST", "/webhook", "application/x-www-form-urlencoded", "payload=%7B%22a%22%3A1%7D"},
		{"PUT", "/upload", "application/octet-stream", "\x00\x01\xff binary"},
		{"DELETE", "/x", "text/plain", "caf\xe9"},
		{"GET", "/bin", "", ""},
	}
	for _, rq := range requests {
		want := fetch(t, direct.URL, rq.method, rq.path, rq.ctype, rq.body)
		got := fetch(t, bridged.URL, rq.method, rq.path, rq.ctype, rq.body)
		if got.status != want.status || got.ctype != want.ctype || got.body != want.body ||
			!slices.Equal(got.cookies, want.cookies) {
			t.Errorf("%s %s:\n got %+v\nwant %+v", rq.method, rq.path, got, want)
		}
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
