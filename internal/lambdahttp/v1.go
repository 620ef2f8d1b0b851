package lambdahttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// AnyFunc is a Lambda handler that takes an API Gateway event of either
// payload version as JSON and answers in that version's shape.
type AnyFunc func(ctx context.Context, event json.RawMessage) (any, error)

// Any returns a Lambda handler that serves both payload versions with h: an
// HTTP API event (version "2.0") as Handler does, answered in the 2.0 shape,
// and any other event as a REST API proxy event (payload 1.0), answered in
// the 1.0 shape. An event that is neither is answered 400; the error result
// is always nil.
func Any(h http.Handler) AnyFunc {
	v2 := Handler(h)
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var sniff struct {
			Version string `json:"version"`
		}
		if err := json.Unmarshal(raw, &sniff); err != nil {
			return badEvent(err), nil
		}
		if sniff.Version == "2.0" {
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(raw, &ev); err != nil {
				return badEvent(err), nil
			}
			return v2(ctx, ev)
		}
		var ev events.APIGatewayProxyRequest
		if err := json.Unmarshal(raw, &ev); err != nil {
			return badEvent(err), nil
		}
		return serveV1(ctx, h, ev), nil
	}
}

// badEvent answers an event that is not an API Gateway request.
func badEvent(err error) events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusBadRequest,
		Headers: map[string]string{"Content-Type": "application/json"},
		Body:    fmt.Sprintf(`{"error":%q}`, "invalid API Gateway event: "+err.Error())}
}

// serveV1 serves a REST API event with h and answers in the 1.0 shape.
func serveV1(ctx context.Context, h http.Handler, ev events.APIGatewayProxyRequest) events.APIGatewayProxyResponse {
	r, err := NewRequestV1(ctx, ev)
	if err != nil {
		return events.APIGatewayProxyResponse{StatusCode: http.StatusBadRequest,
			Headers: map[string]string{"Content-Type": "application/json"},
			Body:    fmt.Sprintf(`{"error":%q}`, err.Error())}
	}
	rec := newRecorder()
	h.ServeHTTP(rec, r)
	v2 := rec.response()
	resp := events.APIGatewayProxyResponse{StatusCode: v2.StatusCode, Headers: v2.Headers,
		Body: v2.Body, IsBase64Encoded: v2.IsBase64Encoded}
	if len(v2.Cookies) > 0 {
		resp.MultiValueHeaders = map[string][]string{"Set-Cookie": v2.Cookies}
	}
	return resp
}

// NewRequestV1 builds the *http.Request of a REST API (payload 1.0) event:
// method, path and query (multi-value fields first), headers (single-value
// ones win over multi-value ones of the same name, as API Gateway fills both
// alike), and the decoded body.
func NewRequestV1(ctx context.Context, ev events.APIGatewayProxyRequest) (*http.Request, error) {
	if ev.HTTPMethod == "" {
		return nil, errors.New("event without httpMethod")
	}
	path := ev.Path
	if path == "" {
		path = "/"
	}
	u, err := url.ParseRequestURI(path)
	if err != nil {
		return nil, fmt.Errorf("bad path: %w", err)
	}
	u.RawQuery = v1Query(ev).Encode()
	body, err := decodeBody(ev.Body, ev.IsBase64Encoded)
	if err != nil {
		return nil, err
	}
	r := &http.Request{Method: ev.HTTPMethod, URL: u, RequestURI: u.RequestURI(), Header: v1Header(ev),
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	r.Host = r.Header.Get("Host")
	r.Header.Del("Host")
	return r.WithContext(ctx), nil
}

func v1Query(ev events.APIGatewayProxyRequest) url.Values {
	q := url.Values{}
	for k, vs := range ev.MultiValueQueryStringParameters {
		q[k] = append(q[k], vs...)
	}
	for k, v := range ev.QueryStringParameters {
		if _, ok := q[k]; !ok {
			q.Set(k, v)
		}
	}
	return q
}

func v1Header(ev events.APIGatewayProxyRequest) http.Header {
	h := http.Header{}
	for k, vs := range ev.MultiValueHeaders {
		h[textproto.CanonicalMIMEHeaderKey(k)] = append([]string(nil), vs...)
	}
	for k, v := range ev.Headers {
		h[textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(k))] = []string{v}
	}
	return h
}
