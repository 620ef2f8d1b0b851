package lambdahttp

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// recorder is the http.ResponseWriter of Handler: it keeps what the handler
// writes and turns it into an API Gateway response.
type recorder struct {
	header  http.Header
	written http.Header // the header as it was at WriteHeader, as net/http sends it
	status  int
	body    bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status != 0 || status < 200 { // later calls and 1xx informational answers are not the response
		return
	}
	r.status = status
	r.written = r.header.Clone()
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.sniff(b)
		r.WriteHeader(http.StatusOK)
	}
	return r.body.Write(b)
}

// sniff sets the Content-Type net/http would detect, unless the handler set
// one (or deleted it with a nil value).
func (r *recorder) sniff(b []byte) {
	if _, set := r.header["Content-Type"]; !set && len(b) > 0 {
		r.header.Set("Content-Type", http.DetectContentType(b))
	}
}

// Flush is a no-op: the response leaves when the handler returns.
func (r *recorder) Flush() {}

// response is the recorded answer in the HTTP API (2.0) response shape:
// Set-Cookie headers in Cookies, other repeated headers joined with ", ",
// and the body base64-encoded unless it is text (IsText) in valid UTF-8.
func (r *recorder) response() events.APIGatewayV2HTTPResponse {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	resp := events.APIGatewayV2HTTPResponse{StatusCode: r.status, Headers: map[string]string{}}
	for name, values := range r.written {
		if name == "Set-Cookie" {
			resp.Cookies = append(resp.Cookies, values...)
			continue
		}
		if len(values) > 0 {
			resp.Headers[name] = strings.Join(values, ", ")
		}
	}
	body := r.body.Bytes()
	if IsText(r.written.Get("Content-Type")) && utf8.Valid(body) {
		resp.Body = string(body)
	} else if len(body) > 0 {
		resp.Body, resp.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return resp
}
