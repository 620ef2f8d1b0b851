package lambdahttp

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// HandlerFunc is a Lambda handler of API Gateway HTTP API events.
type HandlerFunc func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Handler returns a Lambda handler that serves each event with h: the event
// becomes an *http.Request (its RequestContext available through
// FromContext), and what h writes becomes the response. An event that cannot
// be a request (bad base64, bad path) is answered 400; the error result is
// always nil, so Lambda never retries a request API Gateway already answered.
func Handler(h http.Handler) HandlerFunc {
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		r, err := NewRequest(ctx, ev)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusBadRequest,
				Headers: map[string]string{"Content-Type": "application/json"},
				Body:    fmt.Sprintf(`{"error":%q}`, err.Error())}, nil
		}
		rec := newRecorder()
		h.ServeHTTP(rec, r)
		return rec.response(), nil
	}
}

// NewRequest builds the server-side *http.Request of an event, as net/http's
// server would have built it from the client's request: method, path and
// query from rawPath and rawQueryString, headers (Host moved to r.Host,
// cookies back in a Cookie header), the decoded body, and RemoteAddr from the
// source IP. ctx, with the event's RequestContext added, is its context.
func NewRequest(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	hc := ev.RequestContext.HTTP
	if hc.Method == "" {
		return nil, errors.New("event without requestContext.http.method")
	}
	u, err := requestURL(ev)
	if err != nil {
		return nil, err
	}
	body, err := decodeBody(ev.Body, ev.IsBase64Encoded)
	if err != nil {
		return nil, err
	}
	r := &http.Request{Method: hc.Method, URL: u, RequestURI: u.RequestURI(), Header: requestHeader(ev),
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	if major, minor, ok := http.ParseHTTPVersion(hc.Protocol); ok {
		r.Proto, r.ProtoMajor, r.ProtoMinor = hc.Protocol, major, minor
	}
	r.Host = r.Header.Get("Host")
	if r.Host == "" {
		r.Host = ev.RequestContext.DomainName
	}
	r.Header.Del("Host")
	if hc.SourceIP != "" {
		r.RemoteAddr = net.JoinHostPort(hc.SourceIP, "0") // the port is not in the event
	}
	return r.WithContext(NewContext(ctx, ev.RequestContext)), nil
}

// requestURL is the path and query of the event. rawPath is percent-encoded
// as the client sent it; without one, requestContext.http.path is used.
func requestURL(ev events.APIGatewayV2HTTPRequest) (*url.URL, error) {
	path := ev.RawPath
	if path == "" {
		path = ev.RequestContext.HTTP.Path
	}
	if path == "" {
		path = "/"
	}
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("path %q does not start with /", path)
	}
	u, err := url.ParseRequestURI(path)
	if err != nil {
		return nil, fmt.Errorf("bad path: %w", err)
	}
	u.RawQuery = ev.RawQueryString
	return u, nil
}

// requestHeader turns the event's headers (lower-case names, duplicates
// already joined with commas) and cookies into an http.Header.
func requestHeader(ev events.APIGatewayV2HTTPRequest) http.Header {
	h := make(http.Header, len(ev.Headers)+1)
	for name, value := range ev.Headers {
		h[textproto.CanonicalMIMEHeaderKey(name)] = []string{value}
	}
	if len(ev.Cookies) > 0 {
		h.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	return h
}

func decodeBody(body string, b64 bool) ([]byte, error) {
	if !b64 {
		return []byte(body), nil
	}
	dec, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("body is not valid base64: %w", err)
	}
	return dec, nil
}
