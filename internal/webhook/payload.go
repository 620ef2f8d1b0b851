package webhook

import (
	"fmt"
	"mime"
	"net/http"
	"net/url"
)

// payloadOf returns the JSON payload of a delivery body of content type ct:
// the body for application/json, the payload field for
// application/x-www-form-urlencoded (GitHub's "form" content type). Other
// types are refused with 415.
func payloadOf(ct string, body []byte) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(ct)
	switch {
	case err != nil && ct != "":
		return nil, fail(http.StatusUnsupportedMediaType, fmt.Sprintf("bad content type %q", ct), err)
	case mt == "application/json":
		return body, nil
	case mt == "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
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
