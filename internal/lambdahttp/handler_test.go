package lambdahttp_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/narwhal-ci/narwhal/internal/lambdahttp"
)

// seen is what a handler saw of a request.
type seen struct {
	method, path, rawPath, query, host, remote, proto string
	header                                            http.Header
	cookies                                           []string
	body                                              string
	contentLength                                     int64
	rc                                                events.APIGatewayV2HTTPRequestContext
}

// inspect serves an event and returns what the handler saw.
func inspect(t *testing.T, ev events.APIGatewayV2HTTPRequest) (seen, events.APIGatewayV2HTTPResponse) {
	t.Helper()
	var s seen
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s = seen{method: r.Method, path: r.URL.Path, rawPath: r.URL.EscapedPath(), query: r.URL.RawQuery,
			host: r.Host, remote: r.RemoteAddr, proto: r.Proto, header: r.Header, body: string(body),
			contentLength: r.ContentLength}
		for _, c := range r.Cookies() {
			s.cookies = append(s.cookies, c.Name+"="+c.Value)
		}
		s.rc, _ = lambdahttp.FromContext(r.Context())
	})
	resp, err := lambdahttp.Handler(h)(context.Background(), ev)
	if err != nil {
		t.Fatalf("Handler returned an error: %v", err)
	}
	return s, resp
}

func event(method, rawPath string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: "$default", RawPath: rawPath,
		Headers: map[string]string{"host": "api.example.test"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "req-1", DomainName: "api.example.test",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: rawPath,
				Protocol: "HTTP/1.1", SourceIP: "203.0.113.9"}}}
}

func TestHandlerBuildsTheRequest(t *testing.T) {
	ev := event("POST", "/jobs/a%2Fb/cancel")
	ev.RawQueryString = "x=1&x=2&y=%20"
	ev.Headers["content-type"] = "application/octet-stream"
	ev.Headers["accept"] = "application/json,text/plain" // duplicates arrive joined
	ev.Headers["x-custom-header"] = "v"
	ev.Cookies = []string{"session=abc", "theme=dark"}
	ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 0xff}), true

	s, resp := inspect(t, ev)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
	}
	checks := []struct{ name, got, want string }{
		{"method", s.method, "POST"},
		{"path", s.path, "/jobs/a/b/cancel"},
		{"raw path", s.rawPath, "/jobs/a%2Fb/cancel"},
		{"query", s.query, "x=1&x=2&y=%20"},
		{"host", s.host, "api.example.test"},
		{"remote", s.remote, "203.0.113.9:0"},
		{"proto", s.proto, "HTTP/1.1"},
		{"accept", s.header.Get("Accept"), "application/json,text/plain"},
		{"custom", s.header.Get("X-Custom-Header"), "v"},
		{"host header", s.header.Get("Host"), ""}, // promoted to r.Host, as net/http does
		{"body", s.body, "\x00\x01\x02\xff"},
		{"request id", s.rc.RequestID, "req-1"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if s.contentLength != 4 || !slices.Equal(s.cookies, []string{"session=abc", "theme=dark"}) {
		t.Errorf("content length %d, cookies %v", s.contentLength, s.cookies)
	}
}

func TestHandlerWithoutRawPathOrHost(t *testing.T) {
	ev := event("GET", "")
	ev.RequestContext.HTTP.Path = "/healthz"
	delete(ev.Headers, "host")
	s, _ := inspect(t, ev)
	if s.path != "/healthz" || s.host != "api.example.test" || s.method != "GET" {
		t.Errorf("saw %+v", s)
	}
}

func TestHandlerReadsTheSampleEvent(t *testing.T) {
	raw, err := os.ReadFile("../../events/push.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	s, _ := inspect(t, ev)
	if s.method != "POST" || s.path != "/webhook" || s.header.Get("X-GitHub-Event") != "push" ||
		s.header.Get("X-Hub-Signature-256") == "" || len(s.body) != 3305 || s.rc.Stage != "$default" {
		t.Errorf("push sample seen as %s %s, event %q, %d body bytes, stage %q", s.method, s.path,
			s.header.Get("X-GitHub-Event"), len(s.body), s.rc.Stage)
	}
}

func TestHandlerRejectsBadEvents(t *testing.T) {
	bad := event("POST", "/x")
	bad.Body, bad.IsBase64Encoded = "not base64!", true
	noMethod := event("", "/x")
	relative := event("GET", "x")
	for name, ev := range map[string]events.APIGatewayV2HTTPRequest{"bad base64": bad, "no method": noMethod, "relative path": relative} {
		called := false
		resp, err := lambdahttp.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))(context.Background(), ev)
		if err != nil || resp.StatusCode != 400 || called {
			t.Errorf("%s: status %d, err %v, handler called %v; want 400 without calling", name, resp.StatusCode, err, called)
		}
	}
}

func TestHandlerRecordsTheResponse(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00")
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    events.APIGatewayV2HTTPResponse
	}{
		{"json", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(201)
			io.WriteString(w, `{"ok":true}`)
		}, events.APIGatewayV2HTTPResponse{StatusCode: 201, Headers: map[string]string{"Content-Type": "application/json"}, Body: `{"ok":true}`}},
		{"binary", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "image/png")
			w.Write(png)
		}, events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "image/png"},
			Body: base64.StdEncoding.EncodeToString(png), IsBase64Encoded: true}},
		{"text that is not UTF-8", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("caf\xe9"))
		}, events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "text/plain"},
			Body: base64.StdEncoding.EncodeToString([]byte("caf\xe9")), IsBase64Encoded: true}},
		{"sniffed", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hello")
		}, events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "text/plain; charset=utf-8"}, Body: "hello"}},
		{"cookies and repeated headers", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add("Set-Cookie", "a=1; Path=/")
			w.Header().Add("Set-Cookie", "b=2; HttpOnly")
			w.Header().Add("Vary", "Accept")
			w.Header().Add("Vary", "Authorization")
			w.WriteHeader(204)
			w.Header().Set("X-Late", "ignored") // after WriteHeader: not sent, as in net/http
		}, events.APIGatewayV2HTTPResponse{StatusCode: 204, Headers: map[string]string{"Vary": "Accept, Authorization"},
			Cookies: []string{"a=1; Path=/", "b=2; HttpOnly"}}},
		{"nothing written", func(w http.ResponseWriter, r *http.Request) {},
			events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lambdahttp.Handler(tt.handler)(context.Background(), event("GET", "/"))
			if err != nil {
				t.Fatal(err)
			}
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(tt.want)
			if string(gj) != string(wj) {
				t.Errorf("response\n got %s\nwant %s", gj, wj)
			}
		})
	}
}
