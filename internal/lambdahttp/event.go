package lambdahttp

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// Identity of the local "API" in the events NewEvent builds.
const (
	LocalAccountID = "000000000000"
	LocalAPIID     = "local"
)

// hopByHop headers end at API Gateway and never reach the function.
var hopByHop = map[string]bool{"connection": true, "keep-alive": true, "proxy-connection": true,
	"te": true, "trailer": true, "transfer-encoding": true, "upgrade": true}

// NewEvent builds the event API Gateway would send for r with the given body
// (already read from r) at time now: version 2.0, route $default, rawPath as
// sent, header names in lower case with duplicates joined by commas, cookies
// in their own field and not in the headers, X-Forwarded-For/-Proto/-Port
// added, the body base64-encoded unless IsText(content type) and valid UTF-8,
// and a request context with a fresh request ID.
func NewEvent(r *http.Request, body []byte, now time.Time) events.APIGatewayV2HTTPRequest {
	ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: "$default", RawPath: r.URL.EscapedPath(),
		RawQueryString: r.URL.RawQuery, Headers: eventHeaders(r, len(body)), Cookies: cookies(r),
		QueryStringParameters: queryParameters(r.URL.RawQuery), RequestContext: requestContext(r, now)}
	if len(body) > 0 {
		if IsText(r.Header.Get("Content-Type")) && utf8.Valid(body) {
			ev.Body = string(body)
		} else {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	return ev
}

func eventHeaders(r *http.Request, bodyLen int) map[string]string {
	h := make(map[string]string, len(r.Header)+4)
	for name, values := range r.Header {
		lower := strings.ToLower(name)
		if lower != "cookie" && !hopByHop[lower] && len(values) > 0 {
			h[lower] = strings.Join(values, ",")
		}
	}
	h["host"] = r.Host
	if bodyLen > 0 {
		h["content-length"] = strconv.Itoa(bodyLen)
	} else {
		delete(h, "content-length")
	}
	client := clientIP(r)
	if prior := h["x-forwarded-for"]; prior != "" {
		client = prior + ", " + client
	}
	h["x-forwarded-for"] = client
	h["x-forwarded-proto"], h["x-forwarded-port"] = scheme(r), localPort(r)
	return h
}

// cookies splits the Cookie headers into the event's cookies field.
func cookies(r *http.Request) []string {
	var out []string
	for _, line := range r.Header.Values("Cookie") {
		for c := range strings.SplitSeq(line, ";") {
			if c = strings.TrimSpace(c); c != "" {
				out = append(out, c)
			}
		}
	}
	return out
}

// queryParameters decodes the query, joining repeated values with commas.
func queryParameters(raw string) map[string]string {
	v, _ := url.ParseQuery(raw) // keeps what parses, as API Gateway does
	if len(v) == 0 {
		return nil
	}
	out := make(map[string]string, len(v))
	for name, values := range v {
		out[name] = strings.Join(values, ",")
	}
	return out
}

func requestContext(r *http.Request, now time.Time) events.APIGatewayV2HTTPRequestContext {
	domain := r.Host
	if host, _, err := net.SplitHostPort(r.Host); err == nil {
		domain = host
	}
	prefix, _, _ := strings.Cut(domain, ".")
	now = now.UTC()
	return events.APIGatewayV2HTTPRequestContext{RouteKey: "$default", AccountID: LocalAccountID, Stage: "$default",
		RequestID: requestID(), APIID: LocalAPIID, DomainName: domain, DomainPrefix: prefix,
		Time: now.Format("02/Jan/2006:15:04:05 -0700"), TimeEpoch: now.UnixMilli(),
		HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: r.Method, Path: r.URL.Path,
			Protocol: r.Proto, SourceIP: clientIP(r), UserAgent: r.UserAgent()}}
}

// requestID is a random ID shaped like API Gateway's ("Dkq3Xg5PoAMEbvA=").
func requestID() string {
	var b [11]byte
	rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

func clientIP(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// localPort is the port the request came in on, from the server's context.
func localPort(r *http.Request) string {
	if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, port, err := net.SplitHostPort(addr.String()); err == nil {
			return port
		}
	}
	if r.TLS != nil {
		return "443"
	}
	return "80"
}

// WriteResponse writes an HTTP API (2.0) response to w as API Gateway does:
// headers, one Set-Cookie per cookie, the body decoded from base64 when
// flagged. MultiValueHeaders, a payload 1.0 field, is ignored. A response
// API Gateway would reject (no valid status, bad base64) is answered 500
// {"message":"Internal Server Error"} and returned as an error.
func WriteResponse(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse) error {
	body, err := decodeBody(resp.Body, resp.IsBase64Encoded)
	if err == nil && (resp.StatusCode < 200 || resp.StatusCode > 599) {
		err = fmt.Errorf("status code %d", resp.StatusCode)
	}
	if err != nil {
		gatewayError(w, http.StatusInternalServerError, "Internal Server Error")
		return fmt.Errorf("lambda response: %w", err)
	}
	h := w.Header()
	for name, value := range resp.Headers {
		h.Set(name, value)
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	if len(body) > 0 {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(resp.StatusCode)
	_, err = w.Write(body)
	return err
}
