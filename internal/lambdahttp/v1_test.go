package lambdahttp_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/narwhal-ci/narwhal/internal/lambdahttp"
)

// TestAnyServesRESTPayload: a REST API (1.0) event becomes the request it
// describes and is answered in the 1.0 shape; a 2.0 event in the 2.0 shape.
func TestAnyServesRESTPayload(t *testing.T) {
	t.Parallel()
	var got *http.Request
	var body []byte
	h := lambdahttp.Any(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, body = r, must(io.ReadAll(r.Body))
		http.SetCookie(w, &http.Cookie{Name: "a", Value: "1"})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, `{"ok":true}`)
	}))
	ev := events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/jobs/x", Body: "aGk=", IsBase64Encoded: true,
		Headers:                         map[string]string{"host": "api.example", "x-one": "1"},
		MultiValueHeaders:               map[string][]string{"X-Two": {"a", "b"}},
		MultiValueQueryStringParameters: map[string][]string{"q": {"1", "2"}}}
	out, err := h(context.Background(), must(json.Marshal(ev)))
	resp, ok := out.(events.APIGatewayProxyResponse)
	if err != nil || !ok {
		t.Fatalf("answer %T, %v; want a 1.0 response", out, err)
	}
	if resp.StatusCode != http.StatusTeapot || resp.Body != `{"ok":true}` || !reflect.DeepEqual(resp.MultiValueHeaders["Set-Cookie"], []string{"a=1"}) {
		t.Errorf("response %+v", resp)
	}
	if got.Method != "POST" || got.URL.Path != "/jobs/x" || got.Host != "api.example" || string(body) != "hi" ||
		got.Header.Get("X-One") != "1" || !reflect.DeepEqual(got.Header["X-Two"], []string{"a", "b"}) ||
		!reflect.DeepEqual(got.URL.Query()["q"], []string{"1", "2"}) {
		t.Errorf("request %s %s host %q header %v body %q", got.Method, got.URL, got.Host, got.Header, body)
	}
	v2 := events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: "/x",
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"}}}
	if out, _ := h(context.Background(), must(json.Marshal(v2))); reflect.TypeOf(out) != reflect.TypeOf(events.APIGatewayV2HTTPResponse{}) {
		t.Errorf("2.0 event answered with %T", out)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
