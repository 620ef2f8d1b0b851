package lambdahttp_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/narwhal-ci/narwhal/internal/lambdahttp"
)

func TestNewEvent(t *testing.T) {
	now := time.Date(2025, 1, 10, 9, 40, 5, 0, time.UTC)
	r := httptest.NewRequest("POST", "http://abc123.example.test:8080/a%2Fb?x=1&x=2&y=%20z", nil)
	r.RemoteAddr = "198.51.100.7:51234"
	r.Header.Set("Content-Type", "application/json")
	r.Header.Add("Accept", "text/plain")
	r.Header.Add("Accept", "application/json")
	r.Header.Set("Cookie", "session=abc; theme=dark")
	r.Header.Set("Connection", "keep-alive")
	r.Header.Set("User-Agent", "GitHub-Hookshot/7c1a2f3")
	r.Header.Set("X-Forwarded-For", "192.0.2.1")
	ev := lambdahttp.NewEvent(r, []byte(`{"a":1}`), now)

	if ev.Version != "2.0" || ev.RouteKey != "$default" || ev.RawPath != "/a%2Fb" || ev.RawQueryString != "x=1&x=2&y=%20z" {
		t.Errorf("event head = %q %q %q %q", ev.Version, ev.RouteKey, ev.RawPath, ev.RawQueryString)
	}
	wantHeaders := map[string]string{"content-type": "application/json", "accept": "text/plain,application/json",
		"user-agent": "GitHub-Hookshot/7c1a2f3", "host": "abc123.example.test:8080", "content-length": "7",
		"x-forwarded-for": "192.0.2.1, 198.51.100.7", "x-forwarded-proto": "http", "x-forwarded-port": "80"}
	if !equalMaps(ev.Headers, wantHeaders) {
		t.Errorf("headers = %v\nwant %v", ev.Headers, wantHeaders)
	}
	if !slices.Equal(ev.Cookies, []string{"session=abc", "theme=dark"}) {
		t.Errorf("cookies = %q", ev.Cookies)
	}
	if !equalMaps(ev.QueryStringParameters, map[string]string{"x": "1,2", "y": " z"}) {
		t.Errorf("query parameters = %v", ev.QueryStringParameters)
	}
	if ev.Body != `{"a":1}` || ev.IsBase64Encoded {
		t.Errorf("body = %q, base64 %v", ev.Body, ev.IsBase64Encoded)
	}
	rc := ev.RequestContext
	wantHTTP := events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/a/b", Protocol: "HTTP/1.1",
		SourceIP: "198.51.100.7", UserAgent: "GitHub-Hookshot/7c1a2f3"}
	if rc.HTTP != wantHTTP || rc.RouteKey != "$default" || rc.Stage != "$default" || rc.DomainName != "abc123.example.test" ||
		rc.DomainPrefix != "abc123" || rc.Time != "10/Jan/2025:09:40:05 +0000" || rc.TimeEpoch != now.UnixMilli() ||
		len(rc.RequestID) != 16 || rc.AccountID == "" || rc.APIID == "" {
		t.Errorf("request context = %+v", rc)
	}
}

func TestNewEventBodyEncoding(t *testing.T) {
	tests := []struct {
		contentType, body string
		base64            bool
	}{
		{"application/json", `{"a":1}`, false},
		{"application/json; charset=utf-8", `{}`, false},
		{"application/vnd.github+json", `{}`, false},
		{"text/plain", "hello", false},
		{"application/xml", "<a/>", false},
		{"application/javascript", "f()", false},
		{"application/x-www-form-urlencoded", "payload=%7B%7D", true}, // as GitHub's form deliveries arrive
		{"application/octet-stream", "\x00\x01", true},
		{"", "untyped", true},
		{"application/json", "\xff not utf-8", true}, // would not survive a JSON string
		{"application/json", "", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/webhook", nil)
		if tt.contentType != "" {
			r.Header.Set("Content-Type", tt.contentType)
		}
		ev := lambdahttp.NewEvent(r, []byte(tt.body), time.Now())
		want := tt.body
		if tt.base64 {
			want = base64.StdEncoding.EncodeToString([]byte(tt.body))
		}
		if ev.IsBase64Encoded != tt.base64 || ev.Body != want {
			t.Errorf("%q %q: body %q base64 %v; want %q base64 %v", tt.contentType, tt.body, ev.Body, ev.IsBase64Encoded, want, tt.base64)
		}
	}
}

func TestServerWritesTheResponse(t *testing.T) {
	var got events.APIGatewayV2HTTPRequest
	srv := httptest.NewServer(lambdahttp.Server(func(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		got = ev
		return events.APIGatewayV2HTTPResponse{StatusCode: 202, Headers: map[string]string{"content-type": "image/png", "x-a": "1"},
			Cookies: []string{"a=1; Path=/", "b=2"}, Body: base64.StdEncoding.EncodeToString([]byte{0x89, 'P'}), IsBase64Encoded: true}, nil
	}))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/hook?q=1", "application/octet-stream", strings.NewReader("\x00bin"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 202 || resp.Header.Get("Content-Type") != "image/png" || resp.Header.Get("X-A") != "1" ||
		!slices.Equal(resp.Header.Values("Set-Cookie"), []string{"a=1; Path=/", "b=2"}) || string(body) != "\x89P" {
		t.Errorf("answer %d %v %q", resp.StatusCode, resp.Header, body)
	}
	if got.RawPath != "/hook" || got.RawQueryString != "q=1" || !got.IsBase64Encoded || got.Body != base64.StdEncoding.EncodeToString([]byte("\x00bin")) ||
		got.Headers["x-forwarded-port"] != srv.URL[strings.LastIndex(srv.URL, ":")+1:] {
		t.Errorf("event %+v", got)
	}
}

func TestServerErrors(t *testing.T) {
	tests := []struct {
		name   string
		resp   events.APIGatewayV2HTTPResponse
		err    error
		body   string
		status int
	}{
		{"handler error", events.APIGatewayV2HTTPResponse{}, errors.New("boom"), "x", 500},
		{"no status", events.APIGatewayV2HTTPResponse{Body: "ok"}, nil, "x", 500},
		{"bad base64", events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "!!", IsBase64Encoded: true}, nil, "x", 500},
		{"too large", events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil, strings.Repeat("x", 65), 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &lambdahttp.Gateway{MaxBody: 64, Logger: discard(),
				Invoke: func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
					return tt.resp, tt.err
				}}
			rec := httptest.NewRecorder()
			g.ServeHTTP(rec, httptest.NewRequest("POST", "/", strings.NewReader(tt.body)))
			var msg struct{ Message string }
			json.Unmarshal(rec.Body.Bytes(), &msg)
			if rec.Code != tt.status || msg.Message == "" {
				t.Errorf("%d %s; want %d with an API Gateway message", rec.Code, rec.Body, tt.status)
			}
		})
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}
