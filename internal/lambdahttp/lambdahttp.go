// Package lambdahttp adapts net/http to API Gateway events in both
// directions:
//
//   - Handler serves an HTTP API event (payload format 2.0) with an
//     http.Handler: the dispatcher's REST API (internal/api) runs in Lambda
//     this way; Any serves both payload versions (2.0 and the REST API's
//     1.0), which is how the webhook (internal/webhook) runs in Lambda.
//   - Server serves HTTP requests with a Lambda-style handler, building the
//     event the way API Gateway does (NewEvent): the tests use it to show
//     that the two directions are inverses.
//
// It is, with internal/mqbridge (the Amazon MQ event source), one of the two
// event adapters under internal/ allowed to import github.com/aws/aws-lambda-go
// (its events package): everything else there stays free of Lambda types,
// and functions/* and `narwhal dev` wire the adapters in. A test of this
// package checks the rule.
//
// The translation follows API Gateway (docs: "Create AWS Lambda proxy
// integrations for HTTP APIs"): header names in lower case, duplicate headers
// and query parameters joined with commas, cookies in their own field (not in
// the headers), and bodies base64-encoded unless their content type is
// textual (IsText). Where API Gateway would lose bytes (a "text" body that is
// not valid UTF-8 cannot travel in a JSON string) this package base64-encodes
// instead.
package lambdahttp

import (
	"context"
	"mime"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// IsText reports whether a body of content type ct travels as text in an
// event or response (else base64): text/*, JSON, XML and JavaScript, with
// their +json and +xml variants. application/x-www-form-urlencoded is not
// text, as GitHub's form-encoded webhook deliveries show: API Gateway
// base64-encodes them.
func IsText(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		mt, _, _ = strings.Cut(strings.ToLower(strings.TrimSpace(ct)), ";")
	}
	switch {
	case mt == "":
		return false
	case strings.HasPrefix(mt, "text/"):
		return true
	case strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"):
		return true
	}
	switch mt {
	case "application/json", "application/xml", "application/javascript", "application/x-javascript",
		"application/ecmascript":
		return true
	}
	return false
}

type contextKey struct{}

// NewContext returns ctx carrying rc, the request context of an event.
func NewContext(ctx context.Context, rc events.APIGatewayV2HTTPRequestContext) context.Context {
	return context.WithValue(ctx, contextKey{}, rc)
}

// FromContext returns the API Gateway request context that Handler put into
// the request's context (request ID, stage, authorizer, source IP, ...).
func FromContext(ctx context.Context) (events.APIGatewayV2HTTPRequestContext, bool) {
	rc, ok := ctx.Value(contextKey{}).(events.APIGatewayV2HTTPRequestContext)
	return rc, ok
}
