package agent

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// request is an API Gateway request reduced to what the agent reads.
type request struct {
	v1      bool              // REST API payload 1.0 (answered in the 1.0 shape)
	headers map[string]string // names in lower case
	body    []byte            // base64-decoded when it came encoded
}

func (r request) header(name string) string { return r.headers[strings.ToLower(name)] }

// decodeRequest reads an API Gateway event: HTTP API payload 2.0 when its
// version field says "2.0", the REST (1.0) payload otherwise.
func decodeRequest(raw json.RawMessage, maxBody int) (request, *failure) {
	var sniff struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(raw, &sniff); err != nil {
		return request{}, fail(http.StatusBadRequest, "invalid API Gateway event", err)
	}
	if sniff.Version == "2.0" {
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(raw, &ev); err != nil {
			return request{}, fail(http.StatusBadRequest, "invalid API Gateway event", err)
		}
		return newRequest(false, ev.Headers, nil, ev.Body, ev.IsBase64Encoded, maxBody)
	}
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		return request{}, fail(http.StatusBadRequest, "invalid API Gateway event", err)
	}
	return newRequest(true, ev.Headers, ev.MultiValueHeaders, ev.Body, ev.IsBase64Encoded, maxBody)
}

func newRequest(v1 bool, single map[string]string, multi map[string][]string, body string, b64 bool, maxBody int) (request, *failure) {
	r := request{v1: v1, headers: make(map[string]string, len(single)+len(multi))}
	for k, v := range multi {
		if len(v) > 0 {
			r.headers[strings.ToLower(k)] = v[0]
		}
	}
	for k, v := range single {
		r.headers[strings.ToLower(k)] = v
	}
	if tooBig(len(body), b64, maxBody) {
		return r, fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", maxBody), nil)
	}
	r.body = []byte(body)
	if b64 {
		dec, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return r, fail(http.StatusBadRequest, "body is not valid base64", err)
		}
		r.body = dec
	}
	if len(r.body) > maxBody {
		return r, fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", maxBody), nil)
	}
	return r, nil
}

// tooBig tells from the encoded length alone that a body is over the limit,
// before spending memory on decoding it.
func tooBig(n int, b64 bool, maxBody int) bool {
	if b64 {
		return base64.StdEncoding.DecodedLen(n) > maxBody+2
	}
	return n > maxBody
}

// payload returns the JSON payload of a delivery: the body for
// application/json, the payload field for application/x-www-form-urlencoded
// (GitHub's "form" content type). Other types give a 415 failure.
func (r request) payload() ([]byte, *failure) {
	ct := r.header("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	switch {
	case err != nil && ct != "":
		return nil, fail(http.StatusUnsupportedMediaType, fmt.Sprintf("bad content type %q", ct), err)
	case mt == "application/json":
		return r.body, nil
	case mt == "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(r.body))
		if err != nil {
			return nil, fail(http.StatusBadRequest, "malformed form body", err)
		}
		if !form.Has("payload") {
			return nil, fail(http.StatusBadRequest, "form body without a payload field", nil)
		}
		return []byte(form.Get("payload")), nil
	default:
		return nil, fail(http.StatusUnsupportedMediaType,
			fmt.Sprintf("unsupported content type %q: want application/json or application/x-www-form-urlencoded", ct), nil)
	}
}
