package mqbridge

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/mqevent"
)

func TestEndpointAnswers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		answer func(w http.ResponseWriter)
		check  func(error) bool
	}{
		{"success", func(w http.ResponseWriter) { io.WriteString(w, `{"ok":true}`) },
			func(err error) bool { return err == nil }},
		{"null result", func(w http.ResponseWriter) { io.WriteString(w, `null`) },
			func(err error) bool { return err == nil }},
		{"emulator function error", func(w http.ResponseWriter) {
			io.WriteString(w, `{"errorMessage":"boom","errorType":"errorString"}`)
		}, func(err error) bool {
			var fe *FunctionError
			return errors.As(err, &fe) && fe.Message == "boom" && fe.Type == "errorString" && IsFunctionError(err)
		}},
		{"sam local function error", func(w http.ResponseWriter) {
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			io.WriteString(w, `"plain"`)
		}, func(err error) bool {
			var fe *FunctionError
			return errors.As(err, &fe) && fe.Type == "Unhandled"
		}},
		{"emulator panic", func(w http.ResponseWriter) {
			w.WriteHeader(502)
			io.WriteString(w, `{"errorMessage":"aargh","errorType":"string","stackTrace":[]}`)
		}, func(err error) bool {
			var fe *FunctionError
			return errors.As(err, &fe) && fe.Message == "aargh" && IsFunctionError(err)
		}},
		{"timeout", func(w http.ResponseWriter) { io.WriteString(w, "Task timed out after 3.00 seconds") },
			func(err error) bool {
				var te *TimeoutError
				return errors.As(err, &te) && IsFunctionError(err)
			}},
		{"start failure", func(w http.ResponseWriter) { w.WriteHeader(502); io.WriteString(w, "init failed\n") },
			func(err error) bool {
				var se *StatusError
				return errors.As(err, &se) && se.Code == 502 && se.Body == "init failed" && !IsFunctionError(err)
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []byte
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, _ = io.ReadAll(r.Body)
				tc.answer(w)
			}))
			defer srv.Close()
			_, err := (&Endpoint{URL: srv.URL}).Call(context.Background(), []byte(`{"in":1}`))
			if !tc.check(err) || string(got) != `{"in":1}` {
				t.Fatalf("err %v (%T), payload %q", err, err, got)
			}
		})
	}
}

func TestEndpointTransportError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	err := (&Endpoint{URL: srv.URL}).Invoke(context.Background(), mqevent.Event("arn", "q", "/", nil))
	if err == nil || IsFunctionError(err) {
		t.Fatalf("invoke of a closed server: %v", err)
	}
}
